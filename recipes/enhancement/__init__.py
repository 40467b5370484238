"""Speech enhancement recipes: the offline starter corpus, VB-DemandEx and DNS Challenge 2020."""
