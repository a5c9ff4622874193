"""Backbones: every builder returns a dict of named endpoints; see ``common.models.registry``."""
