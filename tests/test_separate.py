"""Separation of long files (chunks with the sources' order aligned) and the `tfsignal separate` command."""

import numpy as np
import pytest
import soundfile as sf
import torch

from tfsignal import models
from tfsignal.cli import main
from tfsignal.metrics import pit, si_sdr
from tfsignal.separation import align_to, separate


class Oracle:
    """A "separator" that returns the true sources of each chunk in a random order."""

    sample_rate = 8000

    def __init__(self, sources: np.ndarray, hop: int, seed: int = 0) -> None:
        self.sources = torch.from_numpy(sources)  # (S, T)
        self.n_sources = sources.shape[0]
        self.hop, self.next_start, self.orders = hop, 0, []
        self.rng = np.random.default_rng(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # (n, chunk) -> (n, S, chunk)
        out = []
        for row in x:
            start, length = self.next_start, row.shape[-1]
            truth = torch.nn.functional.pad(self.sources, (0, length))[:, start : start + length]
            assert torch.allclose(truth.sum(0), row, atol=1e-6)  # it is given the chunk it expects
            order = self.rng.permutation(self.n_sources)
            self.orders.append(tuple(order))
            out.append(truth[order])
            self.next_start += self.hop
        return torch.stack(out)


def planted_sources(n_sources: int, seconds: float, rate: int = 8000, seed: int = 0) -> np.ndarray:
    """Tones at different pitches with slow on/off envelopes, so a source is sometimes silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    sources = []
    for k in range(n_sources):
        envelope = np.clip(np.sin(2 * np.pi * (0.07 + 0.05 * k) * t + rng.uniform(0, 6)) + 0.3, 0, 1)
        tone = np.sin(2 * np.pi * (180 + 230 * k) * t) + 0.3 * np.sin(2 * np.pi * (360 + 460 * k) * t + 1)
        sources.append(0.3 * envelope * tone + 0.01 * rng.standard_normal(t.size))
    return np.stack(sources).astype(np.float32)


@pytest.mark.parametrize("n_sources", [2, 3])
def test_chunk_alignment_keeps_each_source_on_one_track(n_sources):
    truth = planted_sources(n_sources, seconds=30)
    oracle = Oracle(truth, hop=8000 * 3)  # 4 s chunks, 1 s overlap
    out = separate(oracle, truth.sum(0), 8000, chunk_seconds=4, overlap_seconds=1)
    assert len(oracle.orders) == 10 and len(set(oracle.orders)) > 1  # the chunks came back shuffled
    assert out.shape == truth.shape
    _, perm, _ = pit(si_sdr, out[None], truth[None])  # one order for the whole file
    assert np.abs(out[perm[0]] - truth).max() < 1e-5


def test_align_to_finds_the_order_and_keeps_it_on_silence():
    rng = np.random.default_rng(1)
    previous = torch.from_numpy(rng.standard_normal((3, 400)))
    current = previous[[2, 0, 1]] + 0.1 * torch.from_numpy(rng.standard_normal((3, 400)))
    perm = align_to(previous, current)
    assert perm.tolist() == [1, 2, 0] and torch.allclose(current[perm], previous, atol=0.5)
    assert align_to(torch.zeros(2, 100), torch.zeros(2, 100)).tolist() == [0, 1]


def test_short_input_goes_through_whole_and_bad_arguments_are_refused():
    truth = planted_sources(2, seconds=1)
    out = separate(Oracle(truth, hop=0), truth.sum(0), 8000, chunk_seconds=4, overlap_seconds=1)
    assert np.abs(np.sort(out, 0) - np.sort(truth, 0)).max() < 1e-6
    with pytest.raises(ValueError, match="overlap"):
        separate(Oracle(truth, hop=0), truth.sum(0), 8000, chunk_seconds=4, overlap_seconds=0)
    with pytest.raises(ValueError, match="mono"):
        separate(Oracle(truth, hop=0), truth, 8000)


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiger_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("separator")
    torch.manual_seed(0)
    model = models.create("tiger-tiny", channels=8, msa_channels=16, msa_scales=2, n_repeats=1, heads=2)
    models.save(model, folder / "tiger")
    return folder


def write_mixture(path, seconds=1.3, rate=22050):
    """Tones below 8 kHz, so that the round trip through the model's 16 kHz keeps all of them."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.1 * np.sin(2 * np.pi * f * t + f) for f in (220, 1130, 2710, 5300))
    sf.write(path, x.astype(np.float32), rate)
    return path


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_cli_writes_one_file_per_source_at_the_input_rate(tmp_path, tiger_folder, capsys):
    mix = write_mixture(tmp_path / "mix.wav")
    args = ["separate", str(mix), "-o", str(tmp_path / "out"), "--model", str(tiger_folder)]
    args += ["--chunk-seconds", "0.5", "--overlap-seconds", "0.1"]  # 1.3 s: three chunks
    assert main(args) == 0
    written = [tmp_path / "out" / f"mix_s{k}.wav" for k in (1, 2)]
    assert lines(capsys.readouterr().out) == [str(p) for p in written]
    mixture, _ = sf.read(mix)
    total = 0
    for path in written:
        data, rate = sf.read(path)
        assert rate == 22050 and data.shape == mixture.shape
        total = total + data
    # the masks sum to one: the sources add up to the mixture, up to 16-bit samples and the
    # resampling filters' transients at the file's ends
    assert np.abs(total - mixture)[200:-200].max() < 1e-3
    assert not (tmp_path / "out" / "mix_s3.wav").exists()

    # existing outputs are kept unless --overwrite
    assert main(args) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 1 and "mix_s1.wav" in err[0] and "already exists" in err[0]
    assert main(args + ["--overwrite", "--n-sources", "2"]) == 0


def test_cli_streams_the_samples_separate_gives_on_the_whole_file(tmp_path, tiger_folder):
    # Stereo at 44.1 kHz, 2.3 s in 0.6 s chunks: the file is mixed down, resampled, separated chunk by
    # chunk with the sources aligned, resampled back and written block by block, and must match
    # separate() on the whole mixed-down recording to within one step of the 16-bit output.
    rng = np.random.default_rng(0)
    stereo = (0.1 * rng.standard_normal((int(2.3 * 44100), 2))).astype(np.float32)
    mix = tmp_path / "mix.wav"
    sf.write(mix, stereo, 44100, subtype="FLOAT")
    args = ["separate", str(mix), "-o", str(tmp_path / "out"), "--model", str(tiger_folder)]
    assert main(args + ["--chunk-seconds", "0.6", "--overlap-seconds", "0.2"]) == 0
    model = models.load(tiger_folder)
    expected = separate(model, stereo.mean(1), 44100, chunk_seconds=0.6, overlap_seconds=0.2)
    for k in (1, 2):
        data, rate = sf.read(tmp_path / "out" / f"mix_s{k}.wav", dtype="float32")
        assert rate == 44100 and data.shape == (stereo.shape[0],)
        assert np.abs(data - expected[k - 1]).max() < 2**-15 + 1e-6


def test_cli_never_writes_over_its_input(tmp_path, tiger_folder, capsys):
    mix = write_mixture(tmp_path / "a.wav")
    victim = write_mixture(tmp_path / "a_s2.wav", seconds=0.5)
    before = victim.read_bytes()
    args = ["separate", str(mix), str(victim), "-o", str(tmp_path), "--model", str(tiger_folder), "--overwrite"]
    assert main(args) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 1 and "a_s2.wav" in err[0] and "overwrite an input" in err[0]
    assert victim.read_bytes() == before
    assert not (tmp_path / "a_s1.wav").exists()  # nothing of that input was written
    assert (tmp_path / "a_s2_s1.wav").exists()  # the other input was separated


def test_cli_bad_input_is_one_line_and_the_batch_goes_on(tmp_path, tiger_folder, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    good = write_mixture(tmp_path / "good.flac", rate=16000)
    out = tmp_path / "out"
    args = ["separate", str(broken), str(tmp_path / "missing.wav"), str(good), "-o", str(out)]
    assert main(args + ["--model", str(tiger_folder)]) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 2 and "broken.wav" in err[0] and "missing.wav: no such file" in err[1]
    assert "Traceback" not in "".join(err)
    assert (out / "good_s1.flac").exists() and (out / "good_s2.flac").exists()
    assert not (out / "broken_s1.wav").exists()


def test_cli_model_mistakes_exit_2_with_one_line(tmp_path, tiger_folder, capsys):
    mix = write_mixture(tmp_path / "mix.wav", seconds=0.3)
    out = str(tmp_path / "out")
    if "separator" not in models.pretrained():
        assert main(["separate", str(mix), "-o", out]) == 2  # no --model and none ships
    assert main(["separate", str(mix), "-o", out, "--model", str(tmp_path / "nowhere")]) == 2
    assert main(["separate", str(mix), "-o", out, "--model", str(tiger_folder), "--n-sources", "3"]) == 2
    models.save(models.create("mambattention-tiny"), tmp_path / "enhancer")
    assert main(["separate", str(mix), "-o", out, "--model", str(tmp_path / "enhancer.json")]) == 2
    assert main(["separate", str(mix), "-o", str(mix), "--model", str(tiger_folder)]) == 2  # -o is a file
    err = lines(capsys.readouterr().err)
    expected = 5 if "separator" not in models.pretrained() else 4
    assert len(err) == expected and all(line.startswith("tfsignal: error:") for line in err)
    assert "not a separation model" in err[-2] and "folder" in err[-1]
    assert not (tmp_path / "out" / "mix_s1.wav").exists()


def test_onnx_backend_separates_a_real_recording_as_pytorch_does(tmp_path, small_tiger, data_dir, capsys):
    """The same chunks through onnxruntime, with a graph exported beforehand (.onnx + spec): the
    session's small TIGER (tests/conftest.py), saved and exported once."""
    _, folder, graph = small_tiger
    noisy, rate = sf.read(data_dir.parents[1] / "examples/noisy.wav", dtype="float32")
    mix = tmp_path / "real.wav"
    sf.write(mix, noisy[: int(2.5 * rate)], rate, subtype="FLOAT")  # float in, float out: no 16-bit rounding
    common = [str(mix), "--chunk-seconds", "1.0", "--overlap-seconds", "0.25"]
    outputs = {}
    for label, extra in [
        ("torch", ["--model", str(folder)]),
        ("onnx", ["--backend", "onnx", "--model", str(graph)]),
    ]:
        assert main(["separate", *common, "-o", str(tmp_path / label), *extra]) == 0
        outputs[label] = [sf.read(tmp_path / label / f"real_s{k}.wav")[0] for k in (1, 2)]
    for got, want in zip(outputs["onnx"], outputs["torch"]):
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-3
    capsys.readouterr()
    assert main(["separate", *common, "-o", str(tmp_path / "x"), "--backend", "onnx", "--model", str(mix)]) == 2
    assert main(["separate", *common, "-o", str(tmp_path / "x"), "--backend", "onnx", "--model", "nothing.onnx"]) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 2 and "nothing.onnx" in err[1] and not (tmp_path / "x").exists()
