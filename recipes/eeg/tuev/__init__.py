"""Six-class EEG event classification on a local copy of TUEV from EEG tokens."""
