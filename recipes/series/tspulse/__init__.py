"""TSPulse: pre-training on a mixed corpus, zero-shot anomaly detection and imputation."""
