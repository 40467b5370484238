"""Attention: the SDPA path against the written-out reference, masks, and the module's parameters."""

import pytest
import torch
from torch import nn

from tfsignal.kernels import attention, attention_ref
from tfsignal.nn import MultiHeadAttention


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("lengths", [(9, 9), (4, 11)])
def test_sdpa_matches_reference(causal, masked, lengths):
    g = torch.Generator().manual_seed(1)
    q_len, k_len = lengths
    q = torch.randn(3, 2, q_len, 8, generator=g, dtype=torch.float64)
    k = torch.randn(3, 2, k_len, 8, generator=g, dtype=torch.float64)
    v = torch.randn(3, 2, k_len, 8, generator=g, dtype=torch.float64)
    mask = None
    if masked:
        mask = torch.zeros(3, k_len, dtype=torch.bool)
        mask[1, k_len // 2 :] = True
        mask[2, :] = True  # every key padded: outputs are zeros, not NaN
    want = attention_ref(q, k, v, causal=causal, key_padding_mask=mask)
    got = attention(q, k, v, causal=causal, key_padding_mask=mask)
    assert torch.isfinite(got).all()
    assert (got - want).abs().max() < 1e-10
    if masked:
        assert got[2].abs().max() == 0


def test_padding_keys_are_ignored():
    q, k, v = torch.randn(3, 1, 2, 5, 4).unbind(0)
    mask = torch.tensor([[False, False, False, True, True]])
    noisy_v = v.clone()
    noisy_v[:, :, 3:] = 1e6
    assert torch.allclose(attention(q, k, v, key_padding_mask=mask), attention(q, k, noisy_v, key_padding_mask=mask))


def test_module_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiHeadAttention(64, 8)
    ref = nn.MultiheadAttention(64, 8, batch_first=True)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters()) == 16640
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.in_proj.weight)
        ref.in_proj_bias.copy_(ours.in_proj.bias)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 13, 64)
    pad = torch.zeros(2, 13, dtype=torch.bool)
    pad[0, 10:] = True
    want, _ = ref(x, x, x, key_padding_mask=pad, need_weights=False)
    assert (ours(x, key_padding_mask=pad) - want).abs().max() < 1e-5


def test_bad_input_raises():
    q = torch.randn(1, 2, 5, 4)
    with pytest.raises(ValueError, match="key_padding_mask"):
        attention(q, q, q, key_padding_mask=torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(10, 3)
    # CPU tensors outside Triton's interpreter (or no triton installed): a clear error, not a crash
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1|pip install 'tfsignal\\[gpu\\]'"):
        attention(q, q, q, backend="triton")
