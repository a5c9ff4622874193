"""Non-Parametric Instance Discrimination (Wu et al., CVPR 2018)."""
