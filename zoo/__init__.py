"""The model zoo: the releases' published models listed, converted into project checkpoints and run
(``python -m zoo list|convert|features``). Each paper's ``release.py`` holds its release's names."""
