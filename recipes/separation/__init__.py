"""Speech separation recipes (TIGER, PIT SI-SNR).

- starter, on the offline corpus: ``recipes.separation.prepare`` (speaker split, fixed validation
  and test mixtures) -> ``recipes.separation.train`` (two-speaker mixtures made on the fly) ->
  ``recipes.separation.evaluate`` (SI-SNRi / SDRi beside the mixture and an oracle mask);
- ``recipes.separation.libri2mix`` and ``recipes.separation.echoset``: ``train`` and ``evaluate`` on a
  local copy of those datasets, through the same training and evaluation code (``folders``).
"""
