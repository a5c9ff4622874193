"""Published weights into the project: exact name mapping (``mapping``), layout changes (``layouts``), TF1
checkpoint writing and reading (``tf_checkpoint``) and a code-free reader of PyTorch ``.pth`` files
(``torch_pickle``)."""
