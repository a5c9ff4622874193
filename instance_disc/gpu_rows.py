"""instance_disc's rows of the GPU check (``python -m bench.gpu_check``), as plain data read through
``papers.py``. The format (placeholders, per-mode ``tiny`` overrides) is described in ``bench/gpu_rows.py``.
"""
GPU_ROWS = [
    {"name": "instance_disc (main.py)", "target": "-", "images_per_step": ["-b", 1],
     "commands": [{"argv": ["{python}", "{dir}/main.py", "{records}", "--arch", "resnet18", "--nce-k", "4096",
                            "--nce-t", "0.07", "--nce-m", "0.5", "--low-dim", "128", "--lr", "0.03", "-b", "256",
                            "--epochs", "2", "{towers}", "{reader}", "--logdir", "{work}/instance_disc"],
                   "tiny": {"gpu": {"--steps-per-epoch": "10"},
                            "cpu-dry-run": {"--config": "exp_configs/instance_disc.json:toy", "-b": "8",
                                            "--steps-per-epoch": "2", "--nce-k": "64", "--epochs": "1"}}}]},
]

STEP_ROWS = [{"step": "instance_disc", "model": "{resnet}"}]
