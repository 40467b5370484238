"""Evaluation protocols the recipes share: scoring enhancers and separators on held-out files, and
decoding labels from EEG tokens.

- :mod:`tfsignal.evaluation.enhancement`: PESQ / ESTOI / SI-SDR of an ``enhance_fn`` on (noisy, clean) folders;
- :mod:`tfsignal.evaluation.separation`: SI-SNRi / SDRi of a separator, overall and by overlap ratio;
- :mod:`tfsignal.evaluation.tokens`: bag-of-tokens classification on subject-wise splits.
"""
