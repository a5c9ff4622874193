"""A paper directory made from the template (docs/papers.md): settings, a release script, a toy run, a bench
step, GPU-check rows. Its modules import each other as ``newpaper.*``: rename that when naming it otherwise."""
