"""Local Aggregation (Zhuang et al., ICCV 2019) with its Instance Recognition warm start."""
