"""Revisiting's rows of the GPU check (``python -m bench.gpu_check``), as plain data read through ``papers.py``.

The format (placeholders, per-mode ``tiny`` overrides) is described in ``bench/gpu_rows.py``.
"""
ROTATION = "revisiting rotation (config/rotation/imagenet.sh)"
PRETEXT_TINY = {"gpu": {"--epochs": "0.5", "--warmup_epochs": "0", "--decay_epochs": "0.3"},
                "cpu-dry-run": {"--architecture": "revnet50", "--filters_factor": "1", "--warmup_epochs": "0",
                                "--resize_size": "32,32", "--batch_size": "8", "--epochs": "0.1",
                                "--decay_epochs": "0.05", "--serving_input_shape": "None,32,32,3",
                                "--eval_batch_size": "4"}}  # val: 7 images
EVAL_TINY = {"gpu": {"--epochs": "1", "--decay_epochs": "0.5", "--num_classes": "10", "--batch_size": "128"},
             "cpu-dry-run": {"--num_classes": "10", "--smaller_size": "36", "--crop_size": "32", "--batch_size": "16",
                             "--eval_batch_size": "20", "--epochs": "0.1", "--decay_epochs": "0.05"}}

GPU_ROWS = [
    {"name": ROTATION, "target": "-", "images_per_step": None,
     "commands": [{"argv": ["sh", "{dir}/config/rotation/imagenet.sh", "--workdir", "{work}/rotation",
                            "--dataset_dir", "{records}", "{towers}"], "tiny": PRETEXT_TINY},
                  {"argv": ["sh", "{dir}/config/rotation/imagenet.sh", "--workdir", "{work}/rotation",
                            "--dataset_dir", "{records}", "--run_eval"], "tiny": PRETEXT_TINY}]},
    {"name": "revisiting rotation linear eval (config/evaluation)", "target": "-", "images_per_step": None,
     "after": ROTATION,
     "commands": [{"argv": ["sh", "{dir}/config/evaluation/rotation_or_exemplar.sh", "--workdir",
                            "{work}/rotation_eval", "--dataset_dir", "{records}", "--hub_module",
                            "glob:{work}/rotation/export/hub/*/module", "{towers}"], "tiny": EVAL_TINY}]},
]

STEP_ROWS = [{"step": "rotation", "model": "revnet50",
              "tiny": {"gpu": {"--batch": "64"}, "cpu-dry-run": {"--batch": "1"}}}]  # x4 rotations per image
