"""A paper directory made from the template (docs/papers.md): a toy run, a bench step, GPU-check rows."""
