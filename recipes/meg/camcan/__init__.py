"""Cam-CAN resting-state MEG parcel time courses, tokenised for MEG-GPT."""
