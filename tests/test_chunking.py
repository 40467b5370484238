import pytest
import torch
import torch.nn.functional as F

from tfsignal.chunking import chunked_apply


def test_identity_is_exact():
    x = torch.randn(2, 10007)
    y = chunked_apply(lambda c: c, x, chunk=1000, overlap=250, batch_size=3)
    assert torch.allclose(y, x, atol=1e-6)


def test_local_filter_equals_whole_file_away_from_edges():
    # a 31-tap FIR only sees 15 samples each side: with an overlap well above that, chunked output
    # equals whole-file output except near the chunk seams where one side was zero-padded
    taps = torch.randn(1, 1, 31)

    def fir(c):
        return F.conv1d(c[:, None], taps, padding=15)[:, 0]

    x = torch.randn(1, 20000)
    whole = fir(x)
    chunked = chunked_apply(fir, x, chunk=2000, overlap=400)
    assert torch.allclose(chunked, whole, atol=1e-4)


def test_multi_output_shapes_and_short_input():
    x = torch.randn(1, 5000)
    y = chunked_apply(lambda c: torch.stack([c, -c], dim=1), x, chunk=1024, overlap=256)
    assert y.shape == (1, 2, 5000)
    assert torch.allclose(y[:, 1], -x, atol=1e-6)
    assert chunked_apply(lambda c: 2 * c, x[:, :100], 1024, 256).shape == (1, 100)
    with pytest.raises(ValueError, match="overlap"):
        chunked_apply(lambda c: c, x, 100, 100)
