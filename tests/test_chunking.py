import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from tfsignal.chunking import chunked_apply, chunked_file, chunked_stream
from tfsignal.frontends import resample
from tfsignal.io import InputFileError


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


def _local_nonlinear(c):
    taps = torch.linspace(-1, 1, 31).reshape(1, 1, 31) / 8
    return torch.tanh(F.conv1d(c[:, None], taps, padding=15)[:, 0])


def test_stream_yields_chunked_apply_in_pieces_reading_little_at_a_time():
    x = torch.randn(3, 50_001)
    spans = []

    def read(s, e):
        spans.append(e - s)
        return x[:, s:e]

    pieces = list(chunked_stream(_local_nonlinear, read, x.shape[-1], chunk=4000, overlap=1000, batch_size=6))
    assert len(pieces) > 5
    assert torch.equal(torch.cat(pieces, dim=-1), chunked_apply(_local_nonlinear, x, 4000, 1000, batch_size=6))
    # batch_size 6 over 3 channels: 2 chunks (hop 3000) per read once the channel count is known
    assert spans[0] <= 5 * 3000 + 4000 and max(spans[1:]) <= 3000 + 4000


@pytest.mark.parametrize("rate,channels", [(44100, 2), (16000, 1), (8000, 3)])
def test_chunked_file_streams_to_the_same_samples_as_the_whole_signal(tmp_path, rate, channels):
    x = np.random.default_rng(rate).uniform(-0.5, 0.5, (channels, int(7.3 * rate))).astype(np.float32)
    sf.write(tmp_path / "in.wav", x.T, rate, subtype="FLOAT")
    chunked_file(_local_nonlinear, tmp_path / "in.wav", tmp_path / "out.wav", 16000, 16000, 4000, subtype="FLOAT")
    y = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T
    inside = torch.from_numpy(resample(x, rate, 16000))
    expected = resample(chunked_apply(_local_nonlinear, inside, 16000, 4000).numpy(), 16000, rate)[..., : x.shape[-1]]
    np.testing.assert_array_equal(y, expected)


def test_chunked_file_keeps_the_old_output_when_the_input_goes_bad_midway(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 6).astype(np.float32)
    x[16000 * 5] = np.nan  # only the sixth second is bad: found after writing has begun
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "out.wav", np.zeros(10), 16000)
    with pytest.raises(InputFileError, match="already exists"):
        chunked_file(_local_nonlinear, tmp_path / "in.wav", tmp_path / "out.wav", 16000, 8000, 2000)
    with pytest.raises(InputFileError, match="NaN"):
        chunked_file(_local_nonlinear, tmp_path / "in.wav", tmp_path / "out.wav", 16000, 8000, 2000, overwrite=True)
    assert sf.info(tmp_path / "out.wav").frames == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]
