"""JSON experiment configs addressed as ``file.json:key``, with ``"base"`` inheritance and typed overrides.

    cfg = load_config("exp_configs/la_final.json:res18_LA", overrides=["lr=0.01"])

A key's dict may hold ``"base": "other_key"`` (same file) or ``"base": "other.json:key"`` (path relative
to the file that names it, then to the working directory); its own values extend and replace the base's,
and a nested object extends the base's object of that name key by key. Overrides replace single values
(``lr=0.01``; ``counter.epoch=200`` inside a nested object) and are cast to the type of the value they
replace. Every error is a ``ConfigError`` whose message is one line naming the file, key or parameter.
"""
import argparse
import json
import os

__all__ = ["ConfigError", "load_config", "apply_overrides", "parse_value_like"]


class ConfigError(ValueError):
    """A config could not be loaded; the message is one line naming the file, key or parameter."""


def _split_spec(spec):
    if ":" not in spec:
        raise ConfigError("config %r: expected FILE.json:KEY (e.g. exp_configs/la_final.json:res18_LA)" % spec)
    path, key = spec.rsplit(":", 1)
    if not path or not key:
        raise ConfigError("config %r: expected FILE.json:KEY" % spec)
    return path, key


def _read_json(path):
    if not os.path.isfile(path):
        raise ConfigError("config file not found: %s" % path)
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("config file %s is not valid JSON: %s (line %d, column %d)"
                          % (path, e.msg, e.lineno, e.colno))
    if not isinstance(data, dict):
        raise ConfigError("config file %s: the top level must be an object of named experiments" % path)
    return data


def _resolve_path(path, relative_to):
    if relative_to and not os.path.isabs(path):
        candidate = os.path.join(os.path.dirname(relative_to), path)
        if os.path.isfile(candidate):
            return candidate
        candidate = os.path.join(os.path.dirname(relative_to), os.path.basename(path))
        if os.path.isfile(candidate):
            return candidate
    return path


def _load(path, key, seen):
    ident = (os.path.abspath(path), key)
    if ident in seen:
        chain = " -> ".join("%s:%s" % (os.path.basename(p), k) for p, k in seen + [ident])
        raise ConfigError("config inheritance cycle: %s" % chain)
    data = _read_json(path)
    if key not in data:
        raise ConfigError("config %s has no key %r; available keys: %s"
                          % (path, key, ", ".join(sorted(data)) or "(none)"))
    entry = data[key]
    if not isinstance(entry, dict):
        raise ConfigError("config %s:%s must be an object, got %s" % (path, key, type(entry).__name__))
    entry = dict(entry)
    base = entry.pop("base", None)
    if base is None:
        return entry
    if ":" in base:
        base_path, base_key = _split_spec(base)
        base_path = _resolve_path(base_path, path)
    else:
        base_path, base_key = path, base
    return _extend(_load(base_path, base_key, seen + [ident]), entry)


def _extend(base, entry):
    """``base`` with ``entry``'s values put in; an object in both is extended key by key."""
    merged = dict(base)
    for name, value in entry.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            value = _extend(merged[name], value)
        merged[name] = value
    return merged


def parse_value_like(text, like, name="value"):
    """Parse the string ``text`` into the type of ``like`` (bool, int, float, str, list, dict, None)."""
    if not isinstance(text, str):
        return text
    try:
        if isinstance(like, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError("not a boolean")
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, str):
            return text
        if isinstance(like, (list, dict)):
            value = json.loads(text)
            if not isinstance(value, type(like)):
                raise ValueError("expected a JSON %s" % type(like).__name__)
            return value
    except ValueError as e:
        raise ConfigError("override %s=%r: cannot be read as %s (%s)" % (name, text, type(like).__name__, e))
    try:  # the replaced value is null: take JSON if it parses, else the string
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(cfg, overrides, source="config"):
    """Return a copy of ``cfg`` with ``overrides`` applied.

    ``overrides`` is a list of ``"name=value"`` strings (cast to the type of the value replaced) or a dict
    of name -> value; ``a.b`` names the value ``b`` of the nested object ``a``. A name the config does not
    hold is an error listing the valid names.
    """
    cfg = dict(cfg)
    if not overrides:
        return cfg
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for item in overrides:
            if "=" not in item:
                raise ConfigError("override %r: expected NAME=VALUE" % item)
            name, value = item.split("=", 1)
            items.append((name.strip(), value))
    for name, value in items:
        _set(cfg, name, value, source)
    return cfg


def _set(cfg, name, value, source):
    """Replace the value ``name`` (dotted for nested objects, copied on the way) in ``cfg``, typed like it."""
    node, key = cfg, name
    while key not in node and "." in key:
        head, rest = key.split(".", 1)
        if not isinstance(node.get(head), dict):
            break
        node[head] = node = dict(node[head])
        key = rest
    if key not in node:
        raise ConfigError("unknown parameter %r for %s; valid parameters: %s"
                          % (name, source, ", ".join(_names(cfg))))
    node[key] = parse_value_like(value, node[key], name)


def _names(cfg, prefix=""):
    """Every name an override may use: top-level keys, and ``a.b`` for the values of nested objects."""
    names = []
    for key in sorted(cfg):
        names.append(prefix + key)
        if isinstance(cfg[key], dict):
            names.extend(_names(cfg[key], prefix + key + "."))
    return names


def load_config(spec, overrides=None):
    """Load ``"path/file.json:key"`` (following ``"base"`` keys) and apply ``overrides``; returns a dict."""
    path, key = _split_spec(spec)
    cfg = _load(path, key, [])
    return apply_overrides(cfg, overrides, source=spec)


def _main():
    parser = argparse.ArgumentParser(description="Print a resolved experiment config.")
    parser.add_argument("--config", required=True, help="experiment config as FILE.json:KEY")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override one config value (repeatable); typed like the value it replaces")
    args = parser.parse_args()
    try:
        print(json.dumps(load_config(args.config, args.overrides), indent=2, sort_keys=True))
    except ConfigError as e:
        parser.exit(2, "error: %s\n" % e)


if __name__ == "__main__":
    _main()
