"""How every command fails: one line on stderr, exit code 2, and nothing written that should not be.

The rules each command's own tests already check (an existing output is kept without --overwrite,
an output is never an input, a bad file is skipped and the batch goes on, an empty input folder
creates nothing) are not repeated here; these are the paths they leave out.
"""

import numpy as np
import pytest
import soundfile as sf

from tfsignal.cli import main

BATCH_COMMANDS = ["enhance", "separate", "tokenize"]


def model_option(command: str, tiny_models: dict[str, str]) -> list[str]:
    return ["--tokenizer" if command == "tokenize" else "--model", tiny_models[command]]


def write_tone(path, seconds: float = 0.5, rate: int = 16000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


def cut_short(path, fraction: float = 0.6):
    """Keep the first ``fraction`` of the file's bytes: the header still promises every sample."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def run(args: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and the lines a terminal shows on stderr (a progress bar redraws its line after "\\r")."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    return code, [line for line in shown if line.strip()]


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "command, name",
    [("enhance", "clean.wav"), ("tokenize", "tokens.npz"), ("classify", "labels.csv")],
)
def test_one_output_file_in_a_missing_folder_is_refused(tmp_path, capsys, tiny_models, data_dir, command, name):
    target = tmp_path / "missing" / name
    if command == "classify":
        np.save(tmp_path / "x.npy", np.zeros((3, 2, 4), np.float32))
        args = [command, tiny_models[command], tmp_path / "x.npy", "-o", target]
    else:
        source = write_tone(tmp_path / "in.wav") if command == "enhance" else data_dir / "eeg_fp1_60s.edf"
        args = [command, source, "-o", target, *model_option(command, tiny_models)]
    code, err = run(args, capsys)
    assert code == 2 and len(err) == 1 and "missing does not exist" in err[0]
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("command", BATCH_COMMANDS)
def test_an_output_folder_is_removed_again_when_every_input_fails(tmp_path, capsys, tiny_models, command):
    suffix = ".edf" if command == "tokenize" else ".wav"
    bad = [tmp_path / f"bad{suffix}", tmp_path / f"worse{suffix}"]
    bad[0].write_text("not a recording")
    bad[1].write_bytes(b"")
    out = tmp_path / "out" / "nested"
    code, err = run([command, *bad, "-o", out, *model_option(command, tiny_models)], capsys)
    assert code == 2 and len(err) == 2 and "bad" in err[0] and "worse" in err[1]
    assert not (tmp_path / "out").exists()
    # a folder that was there before is the user's, and stays
    out.mkdir(parents=True)
    code, err = run([command, *bad, "-o", out, *model_option(command, tiny_models)], capsys)
    assert code == 2 and out.is_dir() and files_under(out) == []


@pytest.mark.parametrize("command", ["enhance", "separate"])
def test_a_file_that_ends_early_leaves_no_partial_output_and_the_batch_goes_on(tmp_path, capsys, tiny_models, command):
    good = write_tone(tmp_path / "good.flac")
    short = cut_short(write_tone(tmp_path / "short.flac", seconds=6.0))  # long enough for a progress bar
    out = tmp_path / "a" / "b"
    chunks = ["--chunk-seconds", "1"] + (["--overlap-seconds", "0.25"] if command == "separate" else [])
    code, err = run([command, short, good, "-o", out, *chunks, *model_option(command, tiny_models)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"{short}: ") and "at sample" in err[0]
    expected = ["good.flac"] if command == "enhance" else ["good_s1.flac", "good_s2.flac"]
    assert files_under(out) == expected  # nothing of the short file: no output, whole or partial, no temporary file
    assert sf.info(out / expected[0]).frames == sf.info(good).frames


def test_classify_reads_a_folder_and_refuses_an_empty_one(tmp_path, capsys, tiny_models):
    series = tmp_path / "series"
    series.mkdir()
    code, err = run(["classify", tiny_models["classify"], series, "-o", tmp_path / "labels"], capsys)
    assert code == 2 and err[-1].endswith(f"no series files to process in {series}")
    assert not (tmp_path / "labels").exists()
    np.save(series / "a.npy", np.zeros((3, 2, 4), np.float32))
    (series / "b.csv").write_text("x,y\n")  # text: refused, and the batch goes on
    np.save(series / "c.npy", np.ones((2, 2, 4), np.float32))
    code, err = run(["classify", tiny_models["classify"], series, "-o", tmp_path / "labels"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"{series / 'b.csv'}: ")
    assert files_under(tmp_path / "labels") == ["a.csv", "c.csv"]
    assert (tmp_path / "labels" / "c.csv").read_text().splitlines()[0] == "index,label"


def test_export_never_writes_over_the_model_it_reads(tmp_path, capsys):
    from tfsignal import models

    models.save(models.create("mambattention-tiny"), tmp_path / "m.onnx")  # m.onnx.json + m.onnx.safetensors
    config = tmp_path / "m.onnx.json"
    before = config.read_bytes()
    code, err = run(["export", config, "-o", tmp_path / "m.onnx", "--overwrite"], capsys)
    assert code == 2 and len(err) == 1 and "is a file of the model" in err[0]
    assert config.read_bytes() == before and not (tmp_path / "m.onnx").exists()


def test_an_input_that_runs_out_of_memory_is_one_line_and_the_batch_goes_on(tmp_path, capsys):
    from tfsignal.cli.common import process_batch

    def work(src, dsts):  # as a tokenizer asked to resample from 2.56e-6 Hz would
        if src.name == "huge.edf":
            raise MemoryError("Unable to allocate 373. GiB")
        dsts[0].write_text("tokens")

    jobs = [(tmp_path / name, [tmp_path / "out" / f"{name}.npz"]) for name in ("huge.edf", "fine.edf")]
    assert process_batch(jobs, work, overwrite=False) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"{tmp_path / 'huge.edf'}: needs more memory than there is (a damaged header?)"
    ]
    assert captured.out.split() == [str(tmp_path / "out" / "fine.edf.npz")]


def test_export_that_fails_its_parity_check_writes_nothing(tmp_path, capsys, monkeypatch):
    def fake_export(model, path, overwrite=False):  # what to_onnx writes: the graph and its spec beside it
        path.write_bytes(b"graph")
        path.with_name(path.name + ".json").write_text("{}")
        return path

    monkeypatch.setattr("tfsignal.export.to_onnx", fake_export)
    monkeypatch.setattr("tfsignal.export.check", lambda path, model: 0.5)
    code, err = run(["export", "tiger-tiny", "-o", tmp_path / "sep.onnx"], capsys)
    assert code == 2 and "differs from PyTorch by 5.00e-01" in err[-1] and "nothing written" in err[-1]
    assert files_under(tmp_path) == []  # neither the graph, nor its spec, nor the staging folder
    monkeypatch.setattr("tfsignal.export.check", lambda path, model: 1e-6)
    code, _ = run(["export", "tiger-tiny", "-o", tmp_path / "sep.onnx"], capsys)
    assert code == 0 and files_under(tmp_path) == ["sep.onnx", "sep.onnx.json"]
    assert (tmp_path / "sep.onnx").read_bytes() == b"graph"


def test_version_module_entry_point_and_debug_after_the_command(tmp_path, capsys):
    import subprocess
    import sys

    import tfsignal
    from tfsignal.cli.common import UserError

    done = subprocess.run([sys.executable, "-m", "tfsignal", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"tfsignal {tfsignal.__version__}"
    with pytest.raises(UserError, match="--chunk-seconds"):  # --debug shows the error as it is raised
        main(["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "b.wav"), "--chunk-seconds", "-1", "--debug"])
    code, err = run(["enhance", tmp_path / "a.wav", "-o", tmp_path / "b.wav", "--chunk-seconds", "-1"], capsys)
    assert code == 2 and len(err) == 1


def test_enhance_refuses_a_model_that_does_not_enhance(tmp_path, capsys):
    code, err = run(["enhance", write_tone(tmp_path / "a.wav"), "-o", tmp_path / "b.wav", "--model", "tspulse"], capsys)
    assert code == 2 and err == [
        "tfsignal: error: tspulse: not a speech enhancement model (try enhancer or enhancer-stream)"
    ]
    assert not (tmp_path / "b.wav").exists()


def test_enhance_in_python_keeps_no_autograd_graph(tiny_models):
    import torch

    from tfsignal import models

    model = models.load(tiny_models["enhance"])
    assert any(p.requires_grad for p in model.parameters())
    out = model.enhance(torch.randn(1, 8000))
    assert not out.requires_grad and out.grad_fn is None
