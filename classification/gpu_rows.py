"""The classification seed's rows of the GPU check (``python -m bench.gpu_check``), as plain data read through
``papers.py``. The format (placeholders, per-mode ``tiny`` overrides) is described in ``bench/gpu_rows.py``.
"""
CONFIG = "exp_configs/classification.json:ilsvrc_resnet50_v2"
TRAIN_TINY = {"gpu": {"--steps_per_epoch": "10", "--set": "num_classes=10"},
              "cpu-dry-run": {"--config": "exp_configs/classification.json:toy", "--batch": "8",
                              "--steps_per_epoch": "2", "--epochs": "1"}}
TEST_TINY = {"gpu": {"--limit": "64", "--set": "num_classes=10"},
             "cpu-dry-run": {"--config": "exp_configs/classification.json:toy", "--limit": "8", "--batch": "4"}}

GPU_ROWS = [
    {"name": "classification train + 10-crop test", "target": ">= 0.9x the one-tower row",
     "images_per_step": ["--batch", 1],
     "commands": [{"argv": ["{python}", "{dir}/train.py", "--config", CONFIG, "{towers}", "--data", "{records}",
                            "--logdir", "{work}/classification", "--epochs", "2", "{reader}"], "tiny": TRAIN_TINY},
                  {"argv": ["{python}", "{dir}/test.py", "--config", CONFIG, "--checkpoint", "{work}/classification",
                            "--data", "{records}"], "tiny": TEST_TINY}]},
    {"name": "classification train, one tower (same global batch)", "target": "-", "images_per_step": ["--batch", 1],
     "commands": [{"argv": ["{python}", "{dir}/train.py", "--config", CONFIG, "{one_tower}", "--data", "{records}",
                            "--logdir", "{work}/classification_one_tower", "--epochs", "2", "{reader}"],
                   "tiny": TRAIN_TINY}]},
]

STEP_ROWS = []  # its step, classify, is the ResNet-50 reference rows of bench/gpu_rows.py
