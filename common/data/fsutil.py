"""Filesystem checks shared by the data scripts, and reading a JSON file with a one-line error."""
import json
import os


def ensure_writable_dir(path, what="output dir"):
    """Create ``path`` if needed and check that files can be written there; one-line ValueError otherwise."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write_test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise ValueError("cannot write to %s %s: %s" % (what, path, e.strerror or e))


def read_json(path, prefix, suffix=""):
    """The JSON value in ``path``; a missing or broken file is ``ValueError(prefix + reason + suffix)``."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("%s%s%s" % (prefix, e, suffix))
