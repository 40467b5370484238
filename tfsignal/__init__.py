"""tfsignal: time-frequency front ends feeding attention backbones for audio, EEG/MEG and series."""

__version__ = "0.1.0"
