"""The main job on the toy data: every paper end to end, one comparison table."""
