"""MEG-GPT: next-token training on tokenised MEG (simulated, or Cam-CAN tokens), then scoring."""
