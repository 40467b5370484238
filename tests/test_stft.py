import itertools

import pytest
import torch

from tfsignal.frontends import STFT, compress, decompress, magphase, polar

N_FFTS = (200, 400, 512, 640)
HOPS = (100, 160, 256)
TOL = {torch.float32: 1e-4, torch.float64: 1e-9}
CASES = list(itertools.product(N_FFTS, HOPS, (True, False), ("fft", "conv"), (torch.float32, torch.float64)))


def _signal(dtype, shape=(2, 3, 4001)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("n_fft,hop,center,backend,dtype", CASES)
def test_stft_matches_torch(n_fft, hop, center, backend, dtype):
    x = _signal(dtype)
    ours = STFT(n_fft, hop, center=center, backend=backend).to(dtype)
    want = torch.stft(
        x.reshape(-1, x.shape[-1]),
        n_fft,
        hop,
        window=torch.hann_window(n_fft, dtype=dtype),
        center=center,
        return_complex=True,
    ).reshape(*x.shape[:-1], n_fft // 2 + 1, -1)
    got = ours.stft(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert (got - want).abs().max().item() <= TOL[dtype]
    pair = ours.stft(x, return_complex=False)
    assert pair.shape == (*want.shape, 2)
    assert torch.equal(torch.view_as_complex(pair.contiguous()), got)


# torch.istft refuses a Hann window with center=False (its first sample has zero window sum), so
# that case is compared with a Hamming window; hops longer than n_fft leave gaps and are skipped.
@pytest.mark.parametrize("n_fft,hop,center,backend,dtype", [c for c in CASES if c[1] <= c[0]])
def test_istft_matches_torch(n_fft, hop, center, backend, dtype):
    window = "hann" if center else "hamming"
    x = _signal(dtype)
    ours = STFT(n_fft, hop, window=window, center=center, backend=backend)
    torch_window = getattr(torch, f"{window}_window")(n_fft, dtype=dtype)
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop, window=torch_window, center=center, return_complex=True)
    for length in (None, x.shape[-1]):
        want = torch.istft(spec, n_fft, hop, window=torch_window, center=center, length=length)
        for form in (spec, torch.view_as_real(spec)):
            got = ours.istft(form, length=length)
            assert got.shape == want.shape
            assert (got - want).abs().max().item() <= TOL[dtype]


@pytest.mark.parametrize("backend", ["fft", "conv"])
@pytest.mark.parametrize("n_fft,hop", [(400, 100), (512, 256), (640, 160), (200, 100)])
def test_round_trip_reconstructs(backend, n_fft, hop):
    x = _signal(torch.float32, (3, 16000))
    tf = STFT(n_fft, hop, backend=backend)
    y = tf.istft(tf.stft(x), length=x.shape[-1])
    assert (y - x).abs().max() < 1e-4
    # without center the edges lack full overlap; the middle is still exact
    tf = STFT(n_fft, hop, center=False, backend=backend)
    y = tf.istft(tf.stft(x), length=x.shape[-1])
    inner = slice(n_fft, 16000 - 2 * n_fft)
    assert (y[..., inner] - x[..., inner]).abs().max() < 1e-4


def test_win_length_shorter_than_n_fft_matches_torch():
    x = _signal(torch.float64, (2, 3000))
    for backend in ("fft", "conv"):
        tf = STFT(512, 128, win_length=400, backend=backend)
        want = torch.stft(x, 512, 128, 400, window=torch.hann_window(400, dtype=torch.float64), return_complex=True)
        assert (tf.stft(x) - want).abs().max() < 1e-9
        assert (tf.istft(want, length=3000) - x).abs().max() < 1e-9


@pytest.mark.parametrize("backend", ["fft", "conv"])
def test_gradients_flow(backend):
    tf = STFT(64, 16, backend=backend)
    x = torch.randn(2, 300, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: tf.stft(s, return_complex=False), (x,))
    spec = torch.randn(2, 33, 20, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: tf.istft(s, length=300), (spec,))


def test_frame_count_and_bad_input():
    tf = STFT(400, 100)
    assert tf.stft(torch.randn(16000)).shape == (201, tf.n_frames(16000)) == (201, 161)
    assert STFT(400, 100, center=False).n_frames(16000) == 157
    with pytest.raises(ValueError, match="too short"):
        tf.stft(torch.randn(100))
    with pytest.raises(ValueError, match="backend"):
        STFT(400, 100, backend="cuda")
    with pytest.raises(ValueError, match="window"):
        STFT(400, 100, window="kaiser")
    with pytest.raises(ValueError, match="201 frequency bins"):
        tf.istft(torch.randn(100, 10, 2))


def test_compression_keeps_phase_and_inverts():
    spec = torch.randn(4, 201, 50, dtype=torch.complex64)
    squeezed = compress(spec, 0.3)
    assert torch.allclose(squeezed.abs(), spec.abs() ** 0.3, atol=1e-5)
    assert torch.allclose(torch.angle(squeezed), torch.angle(spec), atol=1e-4)
    assert torch.allclose(decompress(squeezed, 0.3), spec, atol=1e-4)
    mag, phase = magphase(torch.view_as_real(spec), power=0.3)
    rebuilt = polar(mag, phase, power=0.3, return_complex=False)
    assert torch.allclose(rebuilt, torch.view_as_real(spec), atol=1e-4)
    assert torch.allclose(compress(spec.abs(), 0.5), spec.abs().sqrt())
