"""Sleep staging on a local copy of Sleep-EDF Expanded from EEG tokens."""
