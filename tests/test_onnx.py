import pytest
import torch
from torch import nn

from tfsignal.export import check, to_onnx
from tfsignal.frontends import STFT

pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test install")


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


def test_mamba_models_export_the_static_chunk_scan_not_an_unrolled_loop(tmp_path):
    """The default scan backend loops over blocks of steps in Python; exporting traced that loop into
    a graph that grew with the input and took over 10 minutes. Exports now take the chunked scan."""
    import onnx

    from tfsignal import models

    torch.manual_seed(0)
    model = models.create("mambattention-tiny", n_blocks=1).eval()
    assert model.config.scan_backend == "auto"
    path = to_onnx(model, tmp_path / "m.onnx", inputs=model.example_inputs(seconds=0.5))
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert not ops & {"Loop", "Scan", "If"}
    assert check(path, model, model.example_inputs(seconds=0.5)) <= 1e-4
