"""The releases the zoo knows: every paper whose ``release.py`` exists (``papers.release_modules()``)."""
import papers

__all__ = ["releases", "get_release"]

REQUIRED = ("RELEASE", "MODELS", "convert", "preprocess", "feature_extractor")


def releases():
    """{release name: release module}, sorted by name."""
    found = papers.release_modules()
    for name, module in found.items():
        missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
        if missing:
            raise ValueError("release module %s (%s) lacks %s" % (module.__name__, name, ", ".join(missing)))
    return dict(sorted(found.items()))


def get_release(name):
    """The release module called ``name``; a ValueError listing the known releases otherwise."""
    found = releases()
    if name not in found:
        raise ValueError("unknown release %r; known: %s" % (name, ", ".join(found) or "none (no release.py found)"))
    return found[name]
