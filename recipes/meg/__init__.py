"""MEG recipes: tokenise Cam-CAN parcel time courses, train MEG-GPT."""
