"""The GPU check's rows of a paper made from the template, as plain data read through ``papers.py`` (format:
``bench/gpu_rows.py``): its toy run, and its bench step at the check's sizes."""
PAPER = __name__.split(".")[0]

GPU_ROWS = [
    {"name": "%s toy run (toy_demo.py)" % PAPER, "target": "-", "images_per_step": None,
     "commands": [{"argv": ["{python}", "-m", "demo.run_paper", PAPER, "{records}", "{work}/" + PAPER,
                            "{work}/%s.json" % PAPER]}]},
]

STEP_ROWS = [{"step": PAPER, "model": "resnet18"}]
