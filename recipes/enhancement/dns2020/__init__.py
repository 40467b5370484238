"""DNS Challenge 2020 (Reddy et al.): synthesised training pairs read from a local copy."""
