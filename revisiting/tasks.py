"""The pretext tasks by name: each ``model_fn(data, is_training, net, cfg) -> {"loss", "labels", ...}``.

``net(images, is_training, num_classes=None)`` builds the trunk (``revisiting.net``) and returns its endpoints.
"""
from revisiting import exemplar, jigsaw, relative_patch_location, rotation, supervised

TASKS = {
    "supervised": supervised.model_fn,
    "rotation": rotation.model_fn,
    "relative_patch_location": relative_patch_location.model_fn,
    "jigsaw": jigsaw.model_fn,
    "exemplar": exemplar.model_fn,
}


def get_task(name):
    """The model_fn registered as ``name``; an unknown name is a ValueError listing the valid ones."""
    if name not in TASKS:
        raise ValueError("unknown task %r; valid tasks: %s, linear_eval" % (name, ", ".join(TASKS)))
    return TASKS[name]
