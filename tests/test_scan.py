"""Selective scan: every backend against the plain reference, values and gradients; the step function."""

import pytest
import torch

from tfsignal.kernels import (
    selective_scan,
    selective_scan_chunked,
    selective_scan_continue,
    selective_scan_quadratic,
    selective_scan_ref,
    selective_scan_step,
)


def make_inputs(batch=2, d_inner=6, length=37, d_state=4, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_()

    return dict(
        u=r(batch, d_inner, length),
        delta=r(batch, d_inner, length, scale=0.5),
        A=(-torch.exp(torch.randn(d_inner, d_state, generator=g, dtype=dtype))).requires_grad_(),
        B=r(batch, d_state, length),
        C=r(batch, d_state, length),
        D=r(d_inner),
        z=r(batch, d_inner, length),
        delta_bias=r(d_inner),
    )


@pytest.mark.parametrize("backend", ["torch", "chunked", "quadratic"])
@pytest.mark.parametrize("length", [1, 5, 37, 130])
@pytest.mark.parametrize("optional", [True, False])
def test_backends_match_reference_values_and_gradients(backend, length, optional):
    x = make_inputs(length=length)
    if not optional:
        x.update(D=None, z=None, delta_bias=None)
    want = selective_scan_ref(**x)
    got = selective_scan(**x, backend=backend)
    assert (got - want).abs().max() < 1e-10
    probe = torch.randn_like(want)
    leaves = [v for v in x.values() if v is not None]
    g_want = torch.autograd.grad((want * probe).sum(), leaves)
    g_got = torch.autograd.grad((got * probe).sum(), leaves)
    for a, b in zip(g_got, g_want):
        assert (a - b).abs().max() < 1e-9


def test_float32_fast_path_within_1e4_at_benchmark_shape():
    x = make_inputs(batch=2, d_inner=64, length=300, d_state=16, dtype=torch.float32)
    with torch.no_grad():
        want = selective_scan_ref(**x)
        got = selective_scan(**x, backend="torch")
    assert (got - want).abs().max() / want.abs().max() < 1e-4


def test_long_sequences_stay_finite_and_chunk_boundaries_are_seamless():
    # Longer than one chunk of the fast path, with strongly decaying and nearly constant channels.
    x = make_inputs(batch=1, d_inner=4, length=700, d_state=3)
    with torch.no_grad():
        x["A"][0] = -1e-4
        x["A"][1] = -50.0
        want = selective_scan_ref(**x)
        assert torch.isfinite(want).all()
        assert (selective_scan(**x, backend="torch") - want).abs().max() < 1e-9
        assert (selective_scan_chunked(**x, chunk_size=7) - want).abs().max() < 1e-9
        assert (selective_scan_quadratic(**x, chunk_size=9) - want).abs().max() < 1e-9
        assert (selective_scan_quadratic(**x, chunk_size=700) - want).abs().max() < 1e-9  # one chunk: scan_pairs


def test_step_function_carries_state():
    x = {k: v.detach() for k, v in make_inputs(length=20).items()}
    want = selective_scan_ref(**x)
    state = torch.zeros(2, 6, 4, dtype=torch.float64)
    outputs = []
    for t in range(20):
        y, state = selective_scan_step(
            state,
            x["u"][:, :, t],
            x["delta"][:, :, t],
            x["A"],
            x["B"][:, :, t],
            x["C"][:, :, t],
            x["D"],
            x["z"][:, :, t],
            x["delta_bias"],
        )
        outputs.append(y)
    assert (torch.stack(outputs, -1) - want).abs().max() < 1e-12


def test_continued_scan_in_blocks_equals_one_scan():
    x = {k: v.detach() for k, v in make_inputs(length=90).items()}
    want = selective_scan_ref(**x)
    state, pieces = torch.zeros(2, 6, 4, dtype=torch.float64), []
    for start, stop in ((0, 1), (1, 17), (17, 90)):
        part = {k: v[..., start:stop] if k in ("u", "delta", "B", "C", "z") else v for k, v in x.items()}
        y, state = selective_scan_continue(state, **part)
        pieces.append(y)
    assert (torch.cat(pieces, -1) - want).abs().max() < 1e-12
    with pytest.raises(ValueError, match="state must be"):
        selective_scan_continue(state[:1], **x)


def test_bad_shapes_and_backends_raise():
    x = make_inputs()
    with pytest.raises(ValueError, match="B must have shape"):
        selective_scan(**{**x, "B": x["B"][:, :, :-1]})
    with pytest.raises(ValueError, match="unknown backend"):
        selective_scan(**x, backend="cuda")
    with pytest.raises(RuntimeError, match="Triton"):
        selective_scan(**x, backend="triton")
