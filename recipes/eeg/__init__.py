"""EEG recipes on the PhysioNet eegmmidb and eegmat datasets (loaders in recipes.eeg.data)."""
