"""Train the shipped EEG tokenizers on PhysioNet eegmat and eegmmidb plus simulated MEG."""
