"""Decoding held-out subjects of PhysioNet eegmmidb (motor imagery) and eegmat (mental arithmetic)."""
