"""EEG recipes: train the shipped tokenizers, decode held-out subjects, sleep staging, TUEV events."""
