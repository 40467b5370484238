"""MEG-GPT: a GPT over sample-level tokens of multichannel brain signals, trained by next-token prediction.

Huang, Cho, Gohil, Parker Jones and Woolrich, "MEG-GPT: a transformer-based foundation model for
magnetoencephalography data" (arXiv 2510.18080, 2025; reference code: OHBA-analysis/MEG-GPT). Trained
on Cam-CAN rest MEG: 52 parcel time courses at 250 Hz, each sample turned into one of 128 tokens by
the sample-level tokeniser (``tfsignal.tokenizers.SampleTokenizer``).

    tokens (B, C, T) ints in [0, vocab_size), T <= context (80 samples = 320 ms at 250 Hz)
    -> token embedding + channel embedding + position embedding [+ subject embedding]   (B, C, T, d)
    -> dropout; channels folded into the batch: every channel its own sequence        (B * C, T, d)
    -> n_layers pre-norm decoder blocks:
         x + dropout(causal multi-head self-attention over time (LayerNorm(x)))
         x + FFN(LayerNorm(x)),  FFN = Linear(d, ffn) -> GELU -> dropout -> Linear(ffn, d) -> dropout
    -> hidden states                                                                   (B, C, T, d)
    -> Linear(d, vocab_size): logits of the next token at every position         (B, C, T, vocab)
    classify (n_classes > 0): mean over channels and time -> LayerNorm -> dropout -> Linear (B, n_classes)

Cross-channel information. The paper's model uses "time-attention" only and the reference code's
configurations switch its optional channel attention off (``do_chan_attention: False`` in every
layer), so attention never mixes channels: each channel's prediction depends on its own past and on
the embeddings (which channel it is, which subject). That is what is implemented here: channels are
folded into the batch and the per-channel sequences share all weights. Spatial structure is
learned only through the channel embedding, so generated channels are conditionally independent
given their own past.

Parameters of the paper configuration (``meg-gpt``: 52 channels, vocabulary 128, context 80,
d 400, 4 layers, 4 heads, FFN 400, no subject embedding): 4,011,328 = embeddings 104,000 (token
51,200, channel 20,800, position 32,000) + 4 blocks x 964,000 + head 51,328. With the paper's 612
Cam-CAN subjects (``n_subjects=612``) the subject table adds 244,800: 4,256,128. ANCHORS gives no
count to compare with (nor does the paper's abstract).

Departures from the paper and reference code (which also evolved after the paper):
- the subject embedding is a plain ``nn.Embedding(n_subjects, d)``; the reference embeds session
  labels in a smaller table (initialised from each session's token frequencies) and projects it to d;
- ``loss`` averages over every position of the window; the reference code scores only the last 16
  positions of each window (those with the longest context). ``loss(..., last=16)`` does that;
- weights start as in GPT-2 (normal, std 0.02; zero biases; unit LayerNorms), not as in the
  reference's initialiser; there is no final LayerNorm before the head (as in the reference);
- ``classify`` is our fine-tuning head (mean-pooled last hidden states); the paper's decoding uses
  the pre-trained model's features with separate classifiers, or fine-tunes the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.nn.attention import MultiHeadAttention

from .base import Model, port
from .registry import register


@dataclass
class Config:
    vocab_size: int = 128  # tokens of the sample-level tokeniser (paper: 128, of which 65 used)
    n_channels: int = 52  # Cam-CAN parcels (paper: 52)
    context: int = 80  # receptive field in samples (paper: 80 = 320 ms at 250 Hz)
    n_subjects: int = 0  # rows of the subject embedding; 0 = none (paper: one per training subject, 612)
    d_model: int = 400  # width of every embedding and of the decoder (paper: 400)
    n_layers: int = 4  # decoder blocks (paper: 4)
    n_heads: int = 4  # attention heads (paper: 4)
    ffn_dim: int = 400  # hidden width of the feed-forward network (paper: 400)
    dropout: float = 0.2  # after the embeddings, attention and FFN (paper: 0.2)
    n_classes: int = 0  # fine-tuning classification head; 0 = none (the pre-trained model has none)

    def __post_init__(self) -> None:
        if min(self.vocab_size, self.n_channels, self.context, self.d_model, self.n_layers, self.ffn_dim) < 1:
            raise ValueError("vocab_size, n_channels, context, d_model, n_layers and ffn_dim must be positive")
        if self.n_heads < 1 or self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be a positive multiple of n_heads {self.n_heads}")
        if self.n_subjects < 0 or self.n_classes < 0:
            raise ValueError("n_subjects and n_classes must be non-negative")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")


# ---------------------------------------------------------------------------------------- blocks


class FeedForward(nn.Module):
    """Linear(d, ffn) -> GELU -> dropout -> Linear(ffn, d) -> dropout."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, ffn_dim)
        self.down = nn.Linear(ffn_dim, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(self.dropout(F.gelu(self.up(x)))))


class Block(nn.Module):
    """Pre-norm decoder block on (N, T, d): causal self-attention over T, then the FFN, each residual."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(cfg.d_model)
        self.attention = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.ffn_norm = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn_dim, cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.attention_norm(x), causal=True)
        return x + self.ffn(self.ffn_norm(x))


# ----------------------------------------------------------------------------------------- model


class MEGGPT(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        cfg = config
        self.token_embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.channel_embed = nn.Embedding(cfg.n_channels, cfg.d_model)
        self.position_embed = nn.Embedding(cfg.context, cfg.d_model)
        self.subject_embed = nn.Embedding(cfg.n_subjects, cfg.d_model) if cfg.n_subjects else None
        self.embed_dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        if cfg.n_classes:
            self.classifier = nn.Sequential(
                nn.LayerNorm(cfg.d_model), nn.Dropout(cfg.dropout), nn.Linear(cfg.d_model, cfg.n_classes)
            )
        else:
            self.classifier = None
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    # -------------------------------------------------------------------------------- inputs

    def _check(self, tokens: Tensor, subjects: Tensor | None) -> None:
        cfg = self.config
        if tokens.dim() != 3 or tokens.shape[1] != cfg.n_channels:
            raise ValueError(f"expected tokens of shape (batch, {cfg.n_channels}, time), got {tuple(tokens.shape)}")
        if not 1 <= tokens.shape[2] <= cfg.context:
            raise ValueError(f"at most context = {cfg.context} time steps per window, got {tokens.shape[2]}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be integers, got {tokens.dtype}")
        if cfg.n_subjects and subjects is None:
            raise ValueError(f"this model has a subject embedding (n_subjects = {cfg.n_subjects}): pass subjects")
        if not cfg.n_subjects and subjects is not None:
            raise ValueError("this model has no subject embedding (n_subjects = 0): subjects must be None")
        if subjects is not None and tuple(subjects.shape) != (tokens.shape[0],):
            raise ValueError(f"subjects must have shape ({tokens.shape[0]},), got {tuple(subjects.shape)}")

    # -------------------------------------------------------------------------------- network

    def hidden(self, tokens: Tensor, subjects: Tensor | None = None) -> Tensor:
        """Last hidden states (B, C, T, d) of tokens (B, C, T) and optional subject ids (B,)."""
        self._check(tokens, subjects)
        b, c, t = tokens.shape
        positions = torch.arange(t, device=tokens.device)
        channels = torch.arange(c, device=tokens.device)
        x = (
            self.token_embed(tokens)  # (B, C, T, d)
            + self.channel_embed(channels)[None, :, None]  # (1, C, 1, d)
            + self.position_embed(positions)[None, None]  # (1, 1, T, d)
        )
        if self.subject_embed is not None:
            x = x + self.subject_embed(subjects)[:, None, None]  # (B, 1, 1, d)
        x = self.embed_dropout(x).reshape(b * c, t, -1)  # (B * C, T, d): each channel its own sequence
        for block in self.blocks:
            x = block(x)
        return x.view(b, c, t, -1)  # (B, C, T, d)

    def forward(self, tokens: Tensor, subjects: Tensor | None = None) -> Tensor:
        """Next-token logits (B, C, T, vocab_size): position t predicts the token at t + 1."""
        return self.head(self.hidden(tokens, subjects))

    def loss(self, tokens: Tensor, subjects: Tensor | None = None, last: int | None = None) -> Tensor:
        """Mean next-token cross-entropy over a window (B, C, T + 1), T <= context: the first T tokens
        predict the last T. With ``last`` only the last ``last`` predictions count."""
        logits = self(tokens[..., :-1], subjects)  # (B, C, T, V)
        targets = tokens[..., 1:]
        if last is not None:
            logits, targets = logits[..., -last:, :], targets[..., -last:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long())

    def embed(self, tokens: Tensor, subjects: Tensor | None = None) -> Tensor:
        """Features (B, d): the last hidden states averaged over channels and time."""
        return self.hidden(tokens, subjects).mean(dim=(1, 2))

    def classify(self, tokens: Tensor, subjects: Tensor | None = None) -> Tensor:
        """Class logits (B, n_classes) of the fine-tuning head on ``embed``'s pooled features."""
        if self.classifier is None:
            raise ValueError("this configuration has no classification head (n_classes = 0)")
        return self.classifier(self.embed(tokens, subjects))

    @torch.no_grad()
    def generate(
        self,
        prompt_tokens: Tensor,
        n_steps: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        subjects: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample ``n_steps`` tokens after ``prompt_tokens`` (B, C, T0), every channel at once, each step
        seeing the last ``context`` tokens. Returns the prompt followed by the samples, (B, C, T0 + n_steps).

        ``temperature`` 0 picks the most likely token; ``top_k`` samples among the k most likely only.
        Runs in eval mode (no dropout) and restores the mode it found.
        """
        if n_steps < 0 or temperature < 0 or (top_k is not None and top_k < 1):
            raise ValueError("n_steps and temperature must be non-negative and top_k positive")
        was_training = self.training
        self.eval()
        sequence = prompt_tokens.long()
        b, c, _ = sequence.shape
        for _ in range(n_steps):
            logits = self(sequence[..., -self.config.context :], subjects)[:, :, -1]  # (B, C, V)
            if temperature == 0:
                step = logits.argmax(-1)
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    kth = logits.topk(top_k, dim=-1).values[..., -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = logits.softmax(-1).reshape(b * c, -1)
                step = torch.multinomial(probs, 1, generator=generator).view(b, c)
            sequence = torch.cat([sequence, step[..., None]], dim=-1)
        self.train(was_training)
        return sequence

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        cfg = self.config
        tokens = torch.randint(0, cfg.vocab_size, (batch, cfg.n_channels, cfg.context))
        if cfg.n_subjects:
            return tokens, torch.randint(0, cfg.n_subjects, (batch,))
        return (tokens,)

    def onnx_io(self) -> dict:
        cfg = self.config
        inputs = [port("tokens", f"int64 token indices (batch, {cfg.n_channels}, {cfg.context})", batch=0)]
        if cfg.n_subjects:
            inputs.append(port("subjects", f"int64 subject indices (batch,) below {cfg.n_subjects}", batch=0))
        logits = f"next-token logits (batch, {cfg.n_channels}, {cfg.context}, {cfg.vocab_size})"
        return {
            "inputs": inputs,
            "outputs": [port("logits", logits + ": position t predicts the token at t + 1", batch=0)],
            "resize": {"batch": 3},
            "preprocess": "tokens of the tokenizer the model was trained on (see its model card)",
            "postprocess": "softmax over the last axis for next-token probabilities",
        }


# The paper's configuration (4,011,328 parameters, or 4,256,128 with n_subjects=612) and a small one
# for tests and CPU work (64-d, 2 layers, 2 heads, FFN 128).
register("meg-gpt", MEGGPT)
register("meg-gpt-tiny", MEGGPT, d_model=64, n_layers=2, n_heads=2, ffn_dim=128)
