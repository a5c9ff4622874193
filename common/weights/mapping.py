"""Exact assignment of source tensors to project variables: every variable from exactly one source tensor,
every source tensor used once or explicitly ignored, shapes equal after the layout change."""
import numpy as np

__all__ = ["assign_exactly"]


def _entry(project_name, entry, shapes):
    """``(source name, transform, expected shape or None)`` of one plan entry."""
    if isinstance(entry, str):
        entry = (entry, None)
    if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
        raise ValueError("plan entry for %s: expected (source name, transform[, shape]), got %r"
                         % (project_name, entry))
    shape = entry[2] if len(entry) == 3 else (shapes or {}).get(project_name)
    return entry[0], entry[1], None if shape is None else tuple(int(d) for d in shape)


def assign_exactly(source, plan, ignore=(), shapes=None):
    """{project name: ndarray} from ``source`` ({source name: ndarray}) following ``plan`` ({project name:
    (source name, transform or None[, expected shape])}; ``shapes`` {project name: shape} gives the expected
    shapes too). ``ignore``: source names deliberately left unused. A ValueError naming the tensor for: a
    project variable whose source is missing, a source tensor used twice, a source tensor neither used nor
    ignored, a shape that differs from the expected one after the transform."""
    ignore = set(ignore)
    unknown_ignored = sorted(ignore - set(source))
    if unknown_ignored:
        raise ValueError("ignored source tensor %s is not in the source" % unknown_ignored[0])
    used, out = {}, {}
    for project_name in sorted(plan):
        source_name, transform, shape = _entry(project_name, plan[project_name], shapes)
        if source_name not in source:
            raise ValueError("project variable %s has no source: %s is not in the source"
                             % (project_name, source_name))
        if source_name in used:
            raise ValueError("source tensor %s is used twice: for %s and %s"
                             % (source_name, used[source_name], project_name))
        if source_name in ignore:
            raise ValueError("source tensor %s is both ignored and used (for %s)" % (source_name, project_name))
        used[source_name] = project_name
        value = np.asarray(source[source_name])
        if transform is not None:
            value = np.asarray(transform(value))
        if shape is not None and tuple(value.shape) != shape:
            raise ValueError("shape mismatch for %s (from %s): %s after the layout change, the project needs %s"
                             % (project_name, source_name, tuple(value.shape), shape))
        out[project_name] = value
    unused = sorted(set(source) - set(used) - ignore)
    if unused:
        raise ValueError("source tensor %s is neither used nor ignored (%d such)" % (unused[0], len(unused)))
    return out
