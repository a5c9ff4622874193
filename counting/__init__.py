"""Representation Learning by Learning to Count (Noroozi et al., ICCV 2017)."""
