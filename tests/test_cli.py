import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from tfsignal import models
from tfsignal.cli import enhance_main, main
from tfsignal.io import load_audio


class Gain(models.Model):
    """The smallest enhancer-shaped model: a learned gain at 16 kHz (exercises the file pipeline)."""

    @dataclasses.dataclass
    class Config:
        gain: float = 0.5

    sample_rate = 16000

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.gain = nn.Parameter(torch.tensor(config.gain))

    def enhance(self, wave: torch.Tensor) -> torch.Tensor:
        return wave * self.gain


if "test-gain" not in models.available():
    models.register("test-gain", Gain)


@pytest.fixture
def gain_model(tmp_path):
    folder = tmp_path / "gain"
    folder.mkdir()
    models.save(models.create("test-gain", gain=0.5), folder / "gain")
    return folder


def test_info_runs_as_console_script():
    out = subprocess.run([sys.executable, "-m", "tfsignal.cli", "info"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "torch" in out.stdout and "gpu" in out.stdout and "triton" in out.stdout


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as code:
        main(["enhance", "--help"])
    assert code.value.code == 0
    assert "enhance noisy.wav -o clean.wav" in capsys.readouterr().out


def test_enhance_files_keeps_rate_channels_and_never_overwrites(tmp_path, gain_model, capsys, data_dir):
    speech, _ = load_audio(data_dir / "speech_lj.flac", sr=44100)  # band-limited to 8 kHz
    stereo = tmp_path / "stereo44.wav"
    sf.write(stereo, np.stack([speech[:50000], -0.5 * speech[:50000]], 1), 44100, subtype="FLOAT")
    out = tmp_path / "out.wav"
    assert enhance_main([str(stereo), "-o", str(out), "--model", str(gain_model)]) == 0
    y, rate = load_audio(out, mono=False)
    x, _ = load_audio(stereo, mono=False)
    assert rate == 44100 and y.shape == x.shape
    err = y[:, 500:-500] - 0.5 * x[:, 500:-500]
    # the 16 kHz model rate drops only the top of the band (7.2-8 kHz): > 30 dB signal to error
    assert 10 * np.log10((0.25 * x[:, 500:-500] ** 2).sum() / (err**2).sum()) > 30
    before = out.read_bytes()
    assert enhance_main([str(stereo), "-o", str(out), "--model", str(gain_model)]) == 2
    assert out.read_bytes() == before
    assert "already exists" in capsys.readouterr().err
    assert enhance_main([str(stereo), "-o", str(out), "--model", str(gain_model), "--overwrite"]) == 0
    assert enhance_main([str(stereo), "-o", str(stereo), "--model", str(gain_model), "--overwrite"]) == 2
    assert load_audio(stereo, mono=False)[0].shape == x.shape  # the input is untouched


def test_batch_goes_on_after_bad_files(tmp_path, gain_model, capsys, data_dir):
    good = tmp_path / "in" / "good.flac"
    good.parent.mkdir()
    good.write_bytes((data_dir / "speech_lj.flac").read_bytes())
    (tmp_path / "in" / "broken.wav").write_text("not audio")
    code = main(
        [
            "enhance",
            str(tmp_path / "in"),
            str(tmp_path / "missing.wav"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(gain_model),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "broken.wav" in err[0] and "missing.wav: no such file" in err[1]
    assert "Traceback" not in "".join(err)
    assert (tmp_path / "out" / "good.flac").exists()


def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys):
    assert main(["enhance", "x.wav", "-o", str(tmp_path / "y.wav"), "--model", "no-such-model"]) == 2
    assert main(["separate", "x.wav", "-o", str(tmp_path)]) == 2
    assert main(["export", "no-such-model", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("tfsignal: error:") for line in err)
    with pytest.raises(SystemExit) as code:
        main(["enhance"])  # argparse usage errors also exit 2
    assert code.value.code == 2


def test_registry_round_trip_and_errors(tmp_path):
    model = models.create("test-gain", gain=0.25)
    models.save(model, tmp_path / "g")
    loaded = models.load(tmp_path / "g.json")
    assert loaded.gain.item() == 0.25 and not loaded.training
    with pytest.raises(KeyError, match="unknown model"):
        models.create("nope")
    with pytest.raises(TypeError, match="unknown config field"):
        models.create("test-gain", volume=3)
    with pytest.raises(FileNotFoundError, match="no such model"):
        models.load("nope")


def test_spectrogram_picture_is_written_beside_the_audio(tmp_path, gain_model, capsys, data_dir):
    pytest.importorskip("matplotlib")
    picture = tmp_path / "before_after.png"
    args = [str(data_dir / "speech_libri.flac"), "-o", str(tmp_path / "out.wav"), "--model", str(gain_model)]
    assert enhance_main([*args, "--spectrogram", str(picture)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # two inputs need a folder; a .png target is refused with one line and exit code 2
    two = [str(data_dir / "speech_libri.flac"), str(data_dir / "speech_lj.flac")]
    assert (
        enhance_main([*two, "-o", str(tmp_path / "many"), "--model", str(gain_model), "--spectrogram", str(picture)])
        == 2
    )
    assert "need a folder" in capsys.readouterr().err
    assert (
        enhance_main(
            [*two, "-o", str(tmp_path / "many"), "--model", str(gain_model), "--spectrogram", str(tmp_path / "pics")]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == ["speech_libri.png", "speech_lj.png"]


@pytest.mark.parametrize("command", ["enhance", "separate", "tokenize"])
def test_an_empty_input_folder_exits_2_and_creates_nothing(tmp_path, gain_model, capsys, command):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a recording")
    model = {"enhance": ["--model", str(gain_model)], "separate": ["--model", str(gain_model)], "tokenize": []}
    code = main([command, str(tmp_path / "empty"), "-o", str(tmp_path / "out"), *model[command]])
    assert code == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tfsignal: error: no ") and "Traceback" not in "".join(err)


def test_two_inputs_with_one_output_name_keep_the_first_and_report_the_second(tmp_path, gain_model, capsys, data_dir):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "speech.flac").write_bytes((data_dir / "speech_lj.flac").read_bytes())
    code = main(
        ["enhance", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out"), "--model", str(gain_model)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "b/speech.flac" in err[0] and "also the output of" in err[0]
    assert load_audio(tmp_path / "out" / "speech.flac")[0].size > 0
