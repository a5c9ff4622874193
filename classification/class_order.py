"""A model's output order as class ids (``test.py --classes FILE|sorted``) and the map of the records' labels
into it, so that a published model is scored against the records' classes by name, never by guessed position."""
import numpy as np


def read_class_order(spec, record_class_names):
    """The class ids in the model's output order: ``"sorted"`` = the records' class ids sorted, otherwise the
    file ``spec`` with one class id a line; an empty file or a repeated id is a ValueError naming it."""
    if spec == "sorted":
        return sorted(record_class_names)
    try:
        with open(spec) as f:
            order = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise ValueError("--classes %s: cannot read it (%s)" % (spec, e.strerror or e))
    if not order:
        raise ValueError("--classes %s: no class ids in the file" % spec)
    seen = set()
    for name in order:
        if name in seen:
            raise ValueError("--classes %s: class id %s appears twice" % (spec, name))
        seen.add(name)
    return order


def labels_to_outputs(order, record_class_names, num_outputs, what="--classes"):
    """int64 ``[records' classes]``: the model output of each record label; a ValueError when the order does not
    have one id per model output or misses a class of the records (count and first id)."""
    if len(order) != num_outputs:
        raise ValueError("%s lists %d classes, the model has %d outputs" % (what, len(order), num_outputs))
    index = {name: i for i, name in enumerate(order)}
    missing = [name for name in record_class_names if name not in index]
    if missing:
        raise ValueError("%s does not cover %d of the records' classes (first: %s)" % (what, len(missing), missing[0]))
    return np.array([index[name] for name in record_class_names], np.int64)
