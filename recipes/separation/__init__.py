"""Speech separation recipes (TIGER, PIT SI-SNR): the offline starter corpus, Libri2Mix and EchoSet."""
