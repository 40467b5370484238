"""Mamba block: parameter layout of mamba_ssm, streaming step == full forward, bidirectionality."""

import torch

from tfsignal.nn import BiMamba, Mamba


def test_parameter_count_matches_mamba_ssm_layout():
    # d_model 64, expand 4, d_state 16, d_conv 4, dt_rank 4 (MambAttention's setting):
    # in_proj 64*512 + conv 256*4+256 + x_proj 256*36 + dt_proj 4*256+256 + A_log 256*16 + D 256 + out_proj 256*64
    mamba = Mamba(64, d_state=16, d_conv=4, expand=4)
    assert sum(p.numel() for p in mamba.parameters()) == 65280
    assert tuple(mamba.A_log.shape) == (256, 16)


def test_step_equals_forward():
    torch.manual_seed(0)
    mamba = Mamba(16, d_state=8, expand=2).double()
    x = torch.randn(3, 25, 16, dtype=torch.float64)
    with torch.no_grad():
        want = mamba(x)
        state = mamba.initial_state(3, dtype=torch.float64)
        steps = []
        for t in range(25):
            y, state = mamba.step(x[:, t], state)
            steps.append(y)
    assert (torch.stack(steps, 1) - want).abs().max() < 1e-12


def test_forward_mamba_is_causal_and_bimamba_sees_both_ways():
    torch.manual_seed(0)
    mamba, bi = Mamba(8, d_state=4), BiMamba(8, d_state=4)
    x = torch.randn(1, 20, 8)
    changed = x.clone()
    changed[:, 15:] += 1.0
    with torch.no_grad():
        assert torch.allclose(mamba(x)[:, :15], mamba(changed)[:, :15])
        out, out_changed = bi(x), bi(changed)
    assert out.shape == (1, 20, 16)
    assert torch.allclose(out[:, :15, :8], out_changed[:, :15, :8])  # forward half: causal
    assert not torch.allclose(out[:, :15, 8:], out_changed[:, :15, 8:])  # backward half sees the future


def test_streamed_blocks_and_the_paired_bidirectional_form_equal_forward():
    torch.manual_seed(0)
    mamba = Mamba(16, d_state=8, expand=1).double()
    x = torch.randn(3, 40, 16, dtype=torch.float64)
    with torch.no_grad():
        want = mamba(x)
        state, pieces = mamba.initial_state(3, dtype=torch.float64), []
        for start, stop in ((0, 1), (1, 2), (2, 23), (23, 40)):  # shorter and longer than the conv
            y, state = mamba.stream(x[:, start:stop], state)
            pieces.append(y)
        assert (torch.cat(pieces, 1) - want).abs().max() < 1e-12
        bi = BiMamba(16, d_state=8, expand=1).double()
        for p in bi.parameters():  # move off the initialisation so both directions differ
            p.add_(0.1 * torch.randn_like(p))
        want = bi(x[:, :33])
        for block in (bi.forward_block, bi.backward_block):
            block.mixer.scan_backend = "quadratic"
        assert (bi(x[:, :33]) - want).abs().max() < 1e-10
