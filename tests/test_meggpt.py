"""MEG-GPT: published size, causality, generation, learning a periodic sequence, heads, save/load, ONNX."""

import pytest
import torch

import tfsignal.models.meggpt as meggpt  # registers "meg-gpt" and "meg-gpt-tiny" with tfsignal.models
from tfsignal import models, weights

# Small and deterministic (no dropout): 4 channels, vocabulary 16, context 24.
SMALL = dict(n_channels=4, vocab_size=16, context=24, dropout=0.0)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_of_the_paper_configuration():
    d, vocab, channels, context, ffn = 400, 128, 52, 80, 400
    embeddings = (vocab + channels + context) * d
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * ffn + ffn) + (ffn * d + d)  # 2 norms, attn, FFN
    head = d * vocab + vocab
    model = models.create("meg-gpt")
    assert (model.config.d_model, model.config.n_layers, model.config.n_heads) == (400, 4, 4)
    assert (model.config.ffn_dim, model.config.dropout, model.config.context) == (400, 0.2, 80)
    assert n_params(model) == embeddings + 4 * block + head == 4_011_328
    # one subject embedding per Cam-CAN training subject (612) adds 612 x 400
    assert n_params(models.create("meg-gpt", n_subjects=612)) == 4_011_328 + 612 * 400 == 4_256_128
    assert n_params(models.create("meg-gpt-tiny")) == 91_904
    assert isinstance(models.create("meg-gpt-tiny"), meggpt.MEGGPT)


def test_a_future_token_never_changes_earlier_logits():
    torch.manual_seed(0)
    model = models.create("meg-gpt-tiny", **SMALL).eval()
    tokens = torch.randint(0, 16, (2, 4, 24))
    changed = tokens.clone()
    changed[:, :, 15] = (changed[:, :, 15] + 5) % 16
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert before.shape == (2, 4, 24, 16)
    torch.testing.assert_close(before[:, :, :15], after[:, :, :15])
    assert not torch.allclose(before[:, :, 15:], after[:, :, 15:])
    # channels are separate sequences: changing channel 1 leaves channel 0 alone
    other = tokens.clone()
    other[:, 1] = (other[:, 1] + 3) % 16
    with torch.no_grad():
        torch.testing.assert_close(model(other)[:, 0], before[:, 0])


def test_generate_shape_valid_tokens_and_reproducibility():
    torch.manual_seed(0)
    model = models.create("meg-gpt-tiny", **SMALL)
    prompt = torch.randint(0, 16, (2, 4, 10))
    out = model.generate(prompt, 30, generator=torch.Generator().manual_seed(1))  # runs past the context
    assert out.shape == (2, 4, 40) and out.dtype == torch.long
    assert torch.equal(out[..., :10], prompt)
    assert out.min() >= 0 and out.max() < 16
    again = model.generate(prompt, 30, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    other = model.generate(prompt, 30, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(out, other)
    top2 = model.generate(prompt, 30, top_k=2, generator=torch.Generator().manual_seed(1))
    greedy = model.generate(prompt, 30, temperature=0)
    assert torch.equal(greedy, model.generate(prompt, 30, temperature=0))
    assert not torch.equal(top2, out)
    assert model.training  # the mode it was found in


def test_learns_a_periodic_sequence_to_near_perfect_accuracy():
    # each channel repeats its own pattern (period 5 to 8, different codes): a model that did not
    # attend to the past, or mixed up channels or positions, could not predict it
    torch.manual_seed(0)
    patterns = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5], [8, 9, 7, 9, 3, 2, 3], [8, 4, 6, 2, 6, 4, 3, 3]]
    series = torch.stack([torch.tensor(p).repeat(200 // len(p) + 1)[:200] for p in patterns])  # (4, 200)
    model = models.create("meg-gpt-tiny", **SMALL)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):  # ~20 s on one core; 100 steps left ~6 % errors, 200 steps 1-3 % depending on threads
        starts = torch.randint(0, 200 - 25, (16,), generator=g)
        batch = torch.stack([series[:, s : s + 25] for s in starts])  # (16, 4, 25)
        loss = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    windows = torch.stack([series[:, s : s + 25] for s in range(0, 175, 7)])
    with torch.no_grad():
        predicted = model(windows[..., :-1]).argmax(-1)
        final = model.loss(windows).item()
    # from position 8 on every pattern has been seen once: the next token is determined
    accuracy = (predicted[..., 8:] == windows[..., 9:]).float().mean().item()
    assert accuracy > 0.98
    assert final < 0.1
    assert model.loss(windows, last=4).item() < 0.1


def test_classify_and_embed_heads():
    torch.manual_seed(0)
    model = models.create("meg-gpt-tiny", **SMALL, n_classes=3)
    tokens = torch.randint(0, 16, (5, 4, 24))
    assert model.embed(tokens).shape == (5, 64)
    logits = model.classify(tokens)
    assert logits.shape == (5, 3)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0, 1])).backward()
    assert model.classifier[-1].weight.grad.abs().sum() > 0
    assert model.token_embed.weight.grad.abs().sum() > 0  # reaches the backbone
    assert model.head.weight.grad is None  # the next-token head is not on the path
    with pytest.raises(ValueError, match="no classification head"):
        models.create("meg-gpt-tiny", **SMALL).classify(tokens)


def test_subject_embedding_changes_the_output_and_is_required():
    torch.manual_seed(0)
    model = models.create("meg-gpt-tiny", **SMALL, n_subjects=3).eval()
    tokens = torch.randint(0, 16, (2, 4, 12))
    with torch.no_grad():
        a = model(tokens, torch.tensor([0, 0]))
        b = model(tokens, torch.tensor([0, 2]))
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])
    with pytest.raises(ValueError, match="pass subjects"):
        model(tokens)
    with pytest.raises(ValueError, match="subjects must be None"):
        models.create("meg-gpt-tiny", **SMALL)(tokens, torch.tensor([0, 1]))


def test_errors_a_user_can_trigger():
    model = models.create("meg-gpt-tiny", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 4, time\)"):
        model(torch.randint(0, 16, (2, 3, 10)))
    with pytest.raises(ValueError, match="context = 24"):
        model(torch.randint(0, 16, (2, 4, 25)))
    with pytest.raises(ValueError, match="integers"):
        model(torch.rand(2, 4, 10))
    with pytest.raises(ValueError, match="n_heads"):
        models.create("meg-gpt-tiny", n_heads=3)


def test_create_save_and_load_round_trip(tmp_path):
    assert {"meg-gpt", "meg-gpt-tiny"} <= set(models.available())
    model = models.create("meg-gpt-tiny", **SMALL, n_subjects=2, n_classes=2).eval()
    loaded = models.load(models.save(model, tmp_path / "m", note="test").parent)
    assert loaded.config == model.config and weights.config(tmp_path / "m")["note"] == "test"
    tokens, subjects = model.example_inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens, subjects), model(tokens, subjects), rtol=0, atol=0)
        torch.testing.assert_close(loaded.classify(tokens, subjects), model.classify(tokens, subjects))


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    from tfsignal.export import check, to_onnx

    model = models.create("meg-gpt-tiny", n_channels=8, context=32).eval()
    inputs = model.example_inputs()
    path = to_onnx(model, tmp_path / "meggpt.onnx", inputs)
    assert check(path, model, inputs) < 1e-4
