"""Local Aggregation's rows of the GPU check (``python -m bench.gpu_check``), as plain data read through
``papers.py``. The format (placeholders, per-mode ``tiny`` overrides) is described in ``bench/gpu_rows.py``.
"""
GPU_TINY = {"--data_len": "0", "--fre_valid": "10", "--fre_filter": "10", "--fre_cache_filter": "10",
            "--instance_k": "256", "--kmeans_k": "100,100"}
CPU_TINY = {"--batch_size": "8", "--test_batch_size": "20", "--fre_valid": "2", "--fre_filter": "2",
            "--fre_cache_filter": "2", "--instance_k": "64", "--kmeans_k": "8,5", "--data_len": "0"}


def _train(config, gpu, cpu):
    """One ``train.py`` command: the release's ``config`` (the toy one on the CPU) and its step counts."""
    return {"argv": ["{python}", "{dir}/train.py", "--config", "exp_configs/la_final.json:res18_" + config,
                     "--image_dir", "{records}", "{towers}", "--cache_dir", "{work}/la", "{reader}"],
            "tiny": {"gpu": dict(GPU_TINY, **gpu),
                     "cpu-dry-run": dict(CPU_TINY, **dict(cpu, **{"--config": "exp_configs/la_final.json:toy_"
                                                                  + config}))}}


GPU_ROWS = [
    {"name": "local_aggregation IR then LA (train.py)", "target": "-", "images_per_step": ["--batch_size", 1],
     "commands": [_train("IR", {"--train_num_steps": "20"}, {"--train_num_steps": "2"}),
                  _train("LA", {"--train_num_steps": "40", "--load_step": "20"},
                         {"--train_num_steps": "4", "--load_step": "2"})]},
]

STEP_ROWS = [{"step": "local_aggregation", "model": "resnet18"}]
