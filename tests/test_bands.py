import pytest
import torch

from tfsignal.frontends import TIGER_BANDS_HZ, BandSplit, band_edges


def test_tiger_table_at_16k():
    bs = BandSplit(band_edges(TIGER_BANDS_HZ), sample_rate=16000, n_fft=640)
    assert len(bs) == 67
    assert bs.widths == [1] * 40 + [4] * 10 + [10] * 8 + [20] * 8 + [1]


@pytest.mark.parametrize("rate,n_fft", [(8000, 320), (16000, 640), (44100, 1764), (48000, 1920), (48000, 2048)])
def test_every_bin_exactly_once(rate, n_fft):
    bs = BandSplit(band_edges(TIGER_BANDS_HZ, max_hz=rate / 2), sample_rate=rate, n_fft=n_fft)
    covered = [b for start, stop in bs.ranges for b in range(start, stop)]
    assert covered == list(range(n_fft // 2 + 1))
    bin_hz = rate / n_fft
    for (start, _), low in zip(bs.ranges, bs.edges_hz):
        assert start * bin_hz >= low - 1e-6 and (start - 1) * bin_hz < low  # first bin at/after edge
    spec = torch.randn(2, n_fft // 2 + 1, 10)
    parts = bs.split(spec)
    assert [p.shape[1] for p in parts] == bs.widths
    assert torch.equal(bs.merge(parts), spec)


def test_eight_khz_keeps_low_bands():
    bs = BandSplit(band_edges(TIGER_BANDS_HZ, max_hz=4000), sample_rate=8000, n_fft=320)
    assert bs.widths == [1] * 40 + [4] * 10 + [10] * 8 + [1]


def test_errors_are_clear():
    with pytest.raises(ValueError, match="above Nyquist"):
        BandSplit(band_edges(TIGER_BANDS_HZ), sample_rate=8000, n_fft=320)
    with pytest.raises(ValueError, match="holds no STFT bin"):
        BandSplit(band_edges(TIGER_BANDS_HZ, max_hz=8000), sample_rate=16000, n_fft=256)
    with pytest.raises(ValueError, match="increase"):
        BandSplit([0, 100, 100], 16000, 640)
    with pytest.raises(ValueError, match="bins on dim"):
        BandSplit([0, 100], 16000, 640).split(torch.zeros(1, 100, 3))
