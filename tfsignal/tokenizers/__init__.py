"""EEG/MEG tokenizers as scikit-learn estimators, and a bag-of-tokens feature transformer.

- :class:`TFMTokenizer`: time-frequency motif tokens, one per 0.5 s per channel (TFM-Tokenizer).
- :class:`SampleTokenizer`: one token per sample per channel (MEG-GPT's tokeniser).
- :class:`TokenHistogram`: tokens -> normalised per-channel token frequencies.
- :class:`TokenTransformerClassifier`: a small transformer classifying epochs from their tokens.
- :class:`VectorQuantizer`: the shared L2-normalised EMA codebook.
- :func:`load_tokenizer`: a shipped or saved tokenizer of whichever class its weights hold.
- :class:`ChannelWarning`: raised for flat or clipped channels, which are tokenised all the same.
"""

from tfsignal.nn import VectorQuantizer

from .base import ChannelWarning, load_tokenizer, shipped_tokenizers
from .classifier import TokenTransformerClassifier
from .histogram import TokenHistogram
from .sample import SampleTokenizer
from .tfm import TFMTokenizer

__all__ = [
    "ChannelWarning",
    "load_tokenizer",
    "shipped_tokenizers",
    "TFMTokenizer",
    "SampleTokenizer",
    "TokenHistogram",
    "TokenTransformerClassifier",
    "VectorQuantizer",
]
