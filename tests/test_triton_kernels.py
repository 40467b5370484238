"""The Triton attention and selective scan against the PyTorch references, in Triton's CPU interpreter.

``triton.jit`` builds a kernel for the GPU or for the interpreter when it decorates it, at import
(it reads TRITON_INTERPRET then, not at launch; checked with triton 3.9): triton's own helpers when
triton is imported (tests/conftest.py does that with the variable set), ours when their module is.
So the fixture sets the variable and re-imports the kernel modules, and afterwards rebuilds them as
they were for the tests that follow. The interpreter runs every program in Python, tens of milliseconds each on a
busy core, so the shapes are small; bfloat16 does not run there, so all but one test use float32.
"""

import importlib
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton", reason="the Triton kernels need the triton package (pip install 'tfsignal[gpu]')")

from tfsignal.kernels import attention, attention_ref, selective_scan, selective_scan_ref, selective_scan_step  # noqa: E402
from tfsignal.kernels.triton_common import check_device  # noqa: E402
from tfsignal.nn import MultiHeadAttention  # noqa: E402

KERNEL_MODULES = ("tfsignal.kernels.attention_triton", "tfsignal.kernels.scan_triton")


@pytest.fixture(scope="module", autouse=True)
def interpreter():
    before = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    modules = [importlib.reload(importlib.import_module(name)) for name in KERNEL_MODULES]
    assert all(module.INTERPRETED for module in modules)
    yield modules
    if before is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = before
    for module in modules:
        importlib.reload(module)


def grads(out: torch.Tensor, inputs: tuple, seed: int = 0) -> tuple:
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    return torch.autograd.grad(out, inputs, weights)


@pytest.mark.parametrize(
    "batch, heads, q_len, k_len, head_dim, causal, padded",
    [
        (2, 3, 9, 9, 4, False, True),
        (2, 2, 7, 7, 8, True, False),
        (3, 1, 5, 13, 16, True, True),  # causal queries aligned with the last 5 keys
        (1, 2, 13, 5, 32, True, False),  # the first 8 queries see no key: zeros
        (1, 1, 70, 67, 64, True, True),  # two blocks of queries and of keys
    ],
)
def test_attention_matches_reference(batch, heads, q_len, k_len, head_dim, causal, padded):
    g = torch.Generator().manual_seed(head_dim)
    q = torch.randn(batch, heads, q_len, head_dim, generator=g, requires_grad=True)
    k = torch.randn(batch, heads, k_len, head_dim, generator=g, requires_grad=True)
    v = torch.randn(batch, heads, k_len, head_dim, generator=g, requires_grad=True)
    mask = None
    if padded:
        mask = torch.zeros(batch, k_len, dtype=torch.bool)
        mask[0, k_len // 2 :] = True
        mask[-1, :] = True  # every key padded: zeros out, zero gradients
    got = attention(q, k, v, causal=causal, key_padding_mask=mask, backend="triton")
    want = attention_ref(q, k, v, causal=causal, key_padding_mask=mask)
    assert got.shape == want.shape and torch.isfinite(got).all()
    assert (got - want).abs().max() < 1e-5
    if padded:
        assert got[-1].abs().max() == 0
    for ours, theirs in zip(grads(got, (q, k, v)), grads(want, (q, k, v))):
        assert (ours - theirs).abs().max() < 1e-5


def test_attention_strided_inputs_and_value_dim():
    # (batch, length, heads, dim) projections seen as (batch, heads, length, dim), as the models pass them
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 11, 3, 8, generator=g).transpose(1, 2).requires_grad_()
    k = torch.randn(2, 11, 3, 8, generator=g).transpose(1, 2).requires_grad_()
    v = torch.randn(2, 11, 3, 12, generator=g).transpose(1, 2).requires_grad_()
    got = attention(q, k, v, backend="triton")
    want = attention_ref(q, k, v)
    assert (got - want).abs().max() < 1e-5
    for ours, theirs in zip(grads(got, (q, k, v)), grads(want, (q, k, v))):
        assert ours.shape == theirs.shape and (ours - theirs).abs().max() < 1e-5


def test_attention_module_on_the_triton_kernel():
    torch.manual_seed(0)
    module = MultiHeadAttention(16, 2, backend="triton")
    x = torch.randn(2, 7, 16, requires_grad=True)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 5:] = True
    inputs = (x, module.in_proj.weight)
    got = module(x, key_padding_mask=pad)
    ours = grads(got, inputs)
    module.backend = "reference"
    want = module(x, key_padding_mask=pad)
    assert (got - want).abs().max() < 1e-5
    for a, b in zip(ours, grads(want, inputs)):
        assert (a - b).abs().max() < 1e-5


def test_attention_float16_accumulates_in_float32():
    # the interpreter runs float16 (not bfloat16): products of float16 tiles, float32 sums
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 2, 21, 8, generator=g).half().requires_grad_() for _ in range(3))
    got = attention(q, k, v, causal=True, backend="triton")
    want = attention_ref(q.float(), k.float(), v.float(), causal=True)
    assert got.dtype == torch.float16
    assert (got.float() - want).abs().max() < 2e-3
    for ours, theirs in zip(grads(got, (q, k, v)), grads(want, (q, k, v))):
        assert ours.dtype == torch.float16 and (ours.float() - theirs).abs().max() < 1e-2


class _RecordGrid:
    """Stands in for a kernel: notes the launch grid and runs nothing."""

    def __init__(self, grids: list):
        self.grids = grids

    def __getitem__(self, grid):
        self.grids.append(grid)
        return lambda *args, **kwargs: None


def test_attention_folds_batch_and_heads_into_the_first_grid_axis(interpreter, monkeypatch):
    # CUDA caps grid axes 1 and 2 at 65535; rows of B*F sequences exceed that. Running 65,537 programs
    # in the interpreter would take most of an hour, so this checks the launches; the index
    # arithmetic is checked above with several heads, batches and blocks.
    module = interpreter[0]
    grids = []
    for name in ("_attention_forward", "_attention_backward_kv", "_attention_backward_q"):
        monkeypatch.setattr(module, name, _RecordGrid(grids))
    q = torch.randn(65537, 1, 3, 4, requires_grad=True)
    out = attention(q, q, q, backend="triton")
    out.sum().backward()
    assert grids == [(65537,), (65537,), (65537,)]


def test_attention_refuses_what_the_kernel_does_not_take():
    q = torch.randn(1, 1, 4, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="float16, bfloat16 or float32"):
        attention(q, q, q, backend="triton")
    wide = torch.randn(1, 1, 4, 129)
    with pytest.raises(ValueError, match="head dims up to 128"):
        attention(wide, wide, wide, backend="triton")


def test_auto_keeps_cpu_tensors_on_pytorch(monkeypatch):
    # the package exports functions named like these modules, so fetch the modules themselves
    attention_module = importlib.import_module("tfsignal.kernels.attention")
    scan_module = importlib.import_module("tfsignal.kernels.scan")
    q = torch.randn(1, 1, 4, 8)
    u = torch.randn(1, 3, 4)
    monkeypatch.setattr(attention_module, "TRITON_FASTER", ((8, 1, 4096),))
    monkeypatch.setattr(scan_module, "TRITON_FASTER", ((2, 1, 4096),))
    assert not attention_module._triton_faster(q, q)
    assert not scan_module._triton_faster(u, torch.zeros(3, 2))
    assert scan_module._resolve_backend("auto", u, torch.zeros(3, 2)) == "torch"


def test_cpu_tensors_need_the_interpreter():
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        check_device(torch.zeros(1), interpreter=False)
    check_device(torch.zeros(1), interpreter=True)


def test_without_triton_kernels_still_import():
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from tfsignal.kernels import attention, selective_scan\n"
        "q = torch.randn(1, 2, 3, 4)\n"
        "assert attention(q, q, q).shape == q.shape\n"
        "try:\n"
        "    attention(q, q, q, backend='triton')\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'tfsignal[gpu]'" in done.stdout


# Compiles every kernel for an H100-class GPU (sm_90) down to a cubin, which needs no GPU: the
# interpreter is lenient where the compiler is not (types carried through loops, tl.dot shapes),
# and the attention is built for bfloat16, which the interpreter cannot run. (float32 with exact
# products compiles too, but took 20 s more here.) Run apart: here triton is in interpreter mode.
GPU_BUILD = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from tfsignal.kernels import attention_triton as att, scan_triton as scan

def build(kernel, dtype, constexprs):
    def kind(name):
        if name in constexprs:
            return "constexpr"
        if name in ("qk_scale", "sm_scale"):
            return "fp32"
        if not name.isupper():
            return "i32"
        return {"PAD": "*i8", "LSE": "*fp32", "DELTA": "*fp32"}.get(name, "*" + dtype)
    signature = {name: kind(name) for name in kernel.arg_names}
    compiled = triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", 90, 32))
    print(kernel.__name__, dtype, len(compiled.asm["cubin"]))

flags = dict(CAUSAL=True, HAS_PAD=True, PRECISION="tf32", BLOCK_M=64, BLOCK_N=64, BLOCK_D=16, BLOCK_DV=16)
for kernel in (att._attention_forward, att._attention_backward_kv, att._attention_backward_q):
    build(kernel, "bf16", flags)
blocks = dict(BLOCK_D=8, BLOCK_N=16, BLOCK_L=16)
build(scan._scan_forward, "fp32", dict(SAVE_STARTS=True, **blocks))
build(scan._scan_backward, "fp32", blocks)
build(scan._scan_step, "fp32", dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True, BLOCK_D=32, BLOCK_N=16))
"""


def test_kernels_compile_for_a_gpu():
    env = {name: value for name, value in os.environ.items() if name != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", GPU_BUILD], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    built = [line.split() for line in done.stdout.splitlines()]
    assert len(built) == 6 and all(int(size) > 0 for *_, size in built)


def scan_inputs(batch: int, d_inner: int, d_state: int, length: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g).requires_grad_()

    return {
        "u": randn(batch, d_inner, length),
        "delta": randn(batch, d_inner, length),
        "A": (-torch.rand(d_inner, d_state, generator=g) - 0.1).requires_grad_(),
        "B": randn(batch, d_state, length),
        "C": randn(batch, d_state, length),
        "D": randn(d_inner),
        "z": randn(batch, d_inner, length),
        "delta_bias": randn(d_inner),
    }


@pytest.mark.parametrize(
    "batch, d_inner, d_state, length",
    [
        (2, 5, 3, 37),  # three chunks of 16 steps, the last one partial
        (1, 3, 16, 9),  # Mamba's state size, one partial chunk
        (2, 2, 1, 1),
    ],
)
def test_scan_matches_reference(batch, d_inner, d_state, length):
    x = scan_inputs(batch, d_inner, d_state, length)
    got = selective_scan(**x, backend="triton")
    want = selective_scan_ref(**x)
    assert (got - want).abs().max() < 1e-5
    inputs = tuple(x.values())
    for name, ours, theirs in zip(x, grads(got, inputs), grads(want, inputs)):
        assert (ours - theirs).abs().max() < 1e-4 * (1 + theirs.abs().max()), name


def test_scan_without_gate_or_softplus():
    x = scan_inputs(1, 4, 2, 20, seed=1)
    x = {**x, "D": None, "z": None, "delta_bias": None, "delta": x["delta"].detach().abs().requires_grad_()}
    got = selective_scan(**x, delta_softplus=False, backend="triton")
    want = selective_scan_ref(**x, delta_softplus=False)
    assert (got - want).abs().max() < 1e-5
    inputs = tuple(t for t in x.values() if t is not None)
    for ours, theirs in zip(grads(got, inputs), grads(want, inputs)):
        assert (ours - theirs).abs().max() < 1e-4 * (1 + theirs.abs().max())


@pytest.mark.parametrize("full", [True, False])
def test_scan_step_matches_pytorch_step(full):
    x = {name: t.detach() for name, t in scan_inputs(2, 5, 3, 4, seed=2).items()}
    state_torch = state_triton = torch.zeros(2, 5, 3)
    for t in range(4):
        step = {
            "u_t": x["u"][:, :, t],
            "delta_t": x["delta"][:, :, t],
            "A": x["A"],
            "B_t": x["B"][:, :, t],
            "C_t": x["C"][:, :, t],
            "D": x["D"] if full else None,
            "z_t": x["z"][:, :, t] if full else None,
            "delta_bias": x["delta_bias"] if full else None,
            "delta_softplus": full,
        }
        if not full:
            step["delta_t"] = step["delta_t"].abs()
        y_torch, state_torch = selective_scan_step(state_torch, **step)
        y_triton, new_state = selective_scan_step(state_triton, **step, backend="triton")
        assert new_state is not state_triton
        state_triton = new_state
        assert (y_triton - y_torch).abs().max() < 1e-5
        assert (state_triton - state_torch).abs().max() < 1e-5
    with pytest.raises(ValueError, match="unknown backend"):
        selective_scan_step(state_torch, **step, backend="cuda")
