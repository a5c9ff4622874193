"""Counting's rows of the GPU check (``python -m bench.gpu_check``), as plain data read through ``papers.py``.

The format (placeholders, per-mode ``tiny`` overrides) is described in ``bench/gpu_rows.py``.
"""
PHASE_1 = "counting phase 1 (counter_trn.py)"
TOY = {"--config": "exp_configs/counting.json:toy", "--batch_size": "4", "--max_iters": "2", "--epoch": "1"}
TOY_PHASE_2 = {k: v for k, v in TOY.items() if k != "--max_iters"}  # phase 2: steps per epoch from the data

GPU_ROWS = [
    {"name": PHASE_1, "target": "-", "images_per_step": ["--batch_size", 2],
     "commands": [{"argv": ["{python}", "{dir}/counter_trn.py", "--batch_size", "256", "--exp_name", "cnt_check",
                            "--net", "alexnet", "--learning_rate", "0.0001", "{towers}", "--logits_dim", "1000",
                            "--opt", "adam", "--epoch", "2", "--learning_rate_var_name", "lr_cnt",
                            "--data_dir", "{records}", "--ckpt_root", "{work}/counting", "{reader}"],
                   "tiny": {"gpu": {"--max_iters": "10"}, "cpu-dry-run": TOY}}]},
    {"name": "counting phase 2 (classifier_trn.py)", "target": "-", "images_per_step": ["--batch_size", 2],
     "after": PHASE_1,
     "commands": [{"argv": ["{python}", "{dir}/classifier_trn.py", "--exp_name", "cls_check", "--pretrained",
                            "--cnt_exp_name", "cnt_check", "--batch_size", "256", "--learning_rate", "0.001",
                            "--opt", "adam", "--epoch", "2", "--net", "alexnet", "--learning_rate_var_name", "lr_cls",
                            "{towers}", "--data_dir", "{records}", "--ckpt_root", "{work}/counting", "{reader}"],
                   "tiny": {"cpu-dry-run": TOY_PHASE_2}}]},
]

STEP_ROWS = [{"step": "counting", "model": "alexnet_counting", "tiny": {"cpu-dry-run": {"--image-size": "96"}}}]
