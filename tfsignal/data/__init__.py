"""Data for training and evaluation, one job per module.

- :mod:`tfsignal.data.activity`: speech activity on short frames (active-speech power, silence trimming).
- :mod:`tfsignal.data.augment`: random degradations of speech (EQ, reverberation, band limit, gain, clipping).
- :mod:`tfsignal.data.splits`: train / val / test splits that hold whole speakers, noise recordings or
  subjects out.
- :mod:`tfsignal.data.speech`: speech datasets mixed on the fly (noisy speech, speaker mixtures,
  synthetic noise).
- :mod:`tfsignal.data.folders`: corpora as they lie on disk (VB-DemandEx, DNS-Challenge 2020,
  Libri2Mix, EchoSet, the offline speech corpus) and the datasets that read them.
"""
