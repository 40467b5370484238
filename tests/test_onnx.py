from pathlib import Path

import pytest
import torch
from torch import nn

from tfsignal.export import check, to_onnx
from tfsignal.frontends import STFT

pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test install")
EXAMPLES = Path(__file__).parents[1] / "examples"


class RoundTrip(nn.Module):
    """STFT as (real, imag) pairs and the iSTFT of it: the conv backend's exported path."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.tf = STFT(n_fft, hop, backend="conv")

    def forward(self, x: torch.Tensor):
        spec = self.tf.stft(x, return_complex=False)  # (B, F, frames, 2)
        return spec, self.tf.istft(spec, length=x.shape[-1])


@pytest.mark.parametrize("n_fft,hop", [(400, 100), (640, 160)])
def test_conv_stft_exports_and_matches_onnxruntime(tmp_path, n_fft, hop):
    model = RoundTrip(n_fft, hop)
    x = torch.randn(2, 8000)
    path = to_onnx(model, tmp_path / "stft.onnx", (x,), dynamic_axes={0: (0, 1)})
    assert check(path, model, (x,)) <= 1e-4
    # other batch sizes and lengths run through the same graph
    assert check(path, model, (torch.randn(3, 12345),)) <= 1e-4
    with pytest.raises(FileExistsError):
        to_onnx(model, path, (x,))


def test_mamba_models_export_the_static_chunk_scan_not_an_unrolled_loop(exported):
    """The default scan backend loops over blocks of steps in Python; exporting traced that loop into
    a graph that grew with the input and took over 10 minutes. Exports now take the chunked scan.
    (The shipped enhancer's graph, exported once for this module.)"""
    import onnx

    model, path = exported("enhancer")
    assert model.config.scan_backend == "auto"
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert not ops & {"Loop", "Scan", "If"}
    assert check(path, model, model.example_inputs(seconds=0.5)) <= 1e-4


# Every model class through its onnx_io(): the shipped weights where a model ships, otherwise the
# smallest named configuration; for TIGER, the session's small one (tests/conftest.py), shared with
# test_tiger and test_separate. Exporting dominates the time (10-130 s each on 2 cores).
SHIPPED = ["enhancer", "enhancer-stream", "tspulse", "tfm", "tfm-fast", "sample"]
SMALLEST = ["meg-gpt-tiny", "mptsnet-cpu", "tiger-tiny"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, small_tiger):
    """name -> (model, path of its exported graph), each exported once for the whole module."""
    from tfsignal.cli.export import exportable

    done = {"tiger-tiny": (small_tiger[0], small_tiger[2])}

    def get(name: str):
        if name not in done:
            torch.manual_seed(0)
            model = exportable(name)
            done[name] = model, to_onnx(model, tmp_path_factory.mktemp("onnx") / f"{name}.onnx")
        return done[name]

    return get


@pytest.mark.parametrize("name", SHIPPED + SMALLEST)
def test_every_model_exports_with_its_spec_and_matches_onnxruntime_at_two_sizes(name, exported):
    import onnx
    import onnxruntime as ort

    from tfsignal.export import check, read_spec

    model, path = exported(name)
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    assert not {node.op_type for node in graph.graph.node} & {"Loop", "Scan"}  # no loop over the input's length
    spec = read_spec(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i["name"] for i in spec["inputs"]] == [i.name for i in session.get_inputs()]
    assert [o["name"] for o in spec["outputs"]] == [o.name for o in session.get_outputs()]
    io = model.onnx_io()
    assert "resize" in io and all(any(isinstance(d, str) for d in i["shape"]) for i in spec["inputs"])
    # check() runs example_inputs() and the resized ones: the dynamic axes take a second size
    assert check(path, model) <= 1e-4
    assert not model.training
    with pytest.raises(FileExistsError):
        to_onnx(model, path)


def test_export_cli_writes_the_graph_and_its_spec_and_refuses_bad_targets(tmp_path, capsys):
    import json
    import subprocess
    import sys

    from tfsignal.cli import main

    out = tmp_path / "sample.onnx"
    cli = [sys.executable, "-m", "tfsignal.cli", "export"]  # once as a user runs it, then in-process
    done = subprocess.run([*cli, "sample", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.exists() and "max |onnxruntime - torch| = 0.00e+00" in done.stdout
    assert main(["export", "--print-spec", str(out)]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["inputs"][0]["shape"] == ["rows", "samples"] and spec["sample_rate"] == 250
    for args, message in [
        (["sample", "-o", str(out)], "already exists"),
        (["sample", "-o", str(tmp_path / "x.pt")], "name the output FILE.onnx"),
        (["sample", "-o", str(tmp_path / "no" / "x.onnx")], "no such folder"),
        (["no-such-model", "-o", str(tmp_path / "y.onnx")], "no such"),
        (["enhancer", "--streaming", "-o", str(tmp_path / "y.onnx")], "not a streaming model"),
    ]:
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.onnx", "sample.onnx.json"]
    # only an enhancer's graph runs under enhance --backend onnx
    enhance = ["enhance", str(EXAMPLES / "noisy.wav"), "-o", str(tmp_path / "e.wav")]
    assert main([*enhance, "--backend", "onnx", "--model", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not an enhancer graph" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "e.wav").exists()


def test_enhance_runs_the_offline_graph_inside_its_pre_and_post_processing(exported, tmp_path):
    """The default enhancer's graph maps compressed magnitude and phase; OnnxSpectralEnhancer does the
    RMS scaling and the STFT around it, so onnxruntime enhances a real recording as PyTorch does."""
    from tfsignal.cli import main
    from tfsignal.export import OnnxSpectralEnhancer, open_enhancer
    from tfsignal.io import load_audio, save_audio

    model, path = exported("enhancer")
    runner = open_enhancer(path)
    assert isinstance(runner, OnnxSpectralEnhancer) and runner.sample_rate == model.sample_rate
    wave = torch.from_numpy(load_audio(EXAMPLES / "noisy.wav", model.sample_rate)[0][: 3 * model.sample_rate])
    with torch.no_grad():
        expected = model.enhance(wave)
    got = runner.enhance(wave)
    assert got.shape == wave.shape
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()
    short = wave[..., 4000:4200]  # shorter than the window: both zero-pad it (one shared home)
    got, expected = runner.enhance(short), model.enhance(short)
    assert got.shape == short.shape and (got - expected).abs().max() <= 1e-4 * expected.abs().max()
    noisy = tmp_path / "noisy.wav"  # 3 s: one chunk, so the PyTorch run is short
    save_audio(noisy, wave.numpy(), model.sample_rate)
    for backend, source in [("onnx", str(path)), ("torch", "enhancer")]:
        out = str(tmp_path / f"{backend}.wav")
        assert main(["enhance", str(noisy), "-o", out, "--backend", backend, "--model", source]) == 0
    a, b = load_audio(tmp_path / "onnx.wav")[0], load_audio(tmp_path / "torch.wav")[0]
    assert a.shape == b.shape and abs(a - b).max() <= 1e-3 * abs(b).max()
