"""A reader of PyTorch ``.pth`` files (``torch.save``'s zip format and the legacy pre-1.6 one) that runs no
code from the file and needs no torch.

A ``.pth`` is a pickle, and unpickling can call any function the file names. Here only these are let through:
tensors (``torch._utils._rebuild_tensor[_v2]``, parameters, ``torch.Size``), typed storages, ``OrderedDict``,
``set``/``frozenset``, PyTorch <= 0.4's ``nn.Module._backend`` reference (read as None) and inert stand-ins for a
release's own classes (objects that only keep their pickled attributes; ``obj.memory`` also finds an
``nn.Module`` buffer). Any other global is refused with one line naming
it, before anything runs. Tensors come back as numpy arrays (copies of their storage's elements, so shared
storages and views read correctly; a tensor that is its whole storage in order is a read-only view of the
file's bytes, without a copy); a tensor reaching outside its storage is refused.
"""
import collections
import os
import pickle
import struct
import zipfile

import numpy as np

__all__ = ["LEMNISCATE_CLASSES", "StandIn", "load_pth"]

# The classes the lemniscate release (zhirongw/lemniscate.pytorch) pickles into its checkpoints' `lemniscate`.
LEMNISCATE_CLASSES = ("lib.NCEAverage.NCEAverage", "lib.LinearAverage.LinearAverage",
                      "lib.alias_multinomial.AliasMethod", "lib.NCECriterion.NCECriterion",
                      "lib.normalize.Normalize")

_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001
_DTYPES = {"Double": np.float64, "Float": np.float32, "Half": np.float16, "BFloat16": np.uint16,
           "Long": np.int64, "Int": np.int32, "Short": np.int16, "Char": np.int8, "Byte": np.uint8,
           "Bool": np.bool_}
_BUILTINS = {"set": set, "frozenset": frozenset, "object": object}


class StandIn(object):
    """An inert object standing for a release class: keeps its pickled attributes, runs nothing of it."""

    def __init__(self, *args):
        self._args = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots dict)
            state = dict(state[0] or {}, **(state[1] or {}))
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state

    def __getattr__(self, name):
        """nn.Module-style lookup: a missing attribute is searched in ``_parameters``, ``_buffers``, ``_modules``."""
        for holder in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(holder) or {}
            if name in found:
                return found[name]
        raise AttributeError(name)


def _latin1_bytes(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError("refused to load: _codecs.encode of %r with %r" % (type(text).__name__, encoding))
    return text.encode("latin1")


def _stand_in_class(qualified):
    module, _, name = qualified.rpartition(".")
    return type(name, (StandIn,), {"__module__": module, "__qualname__": name})


def _ints(values, what, path):
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValueError("%s: a tensor with an invalid %s %r" % (path, what, values))
    return tuple(values)


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler with an allowlist of globals; storages come from ``storage_for(pid) -> 1-D ndarray``."""

    def __init__(self, file, path, storage_for, stand_ins):
        super(_SafeUnpickler, self).__init__(file, encoding="latin1")
        self._path, self._storage_for = path, storage_for
        self._stand_ins = {name: _stand_in_class(name) for name in stand_ins}
        rebuild = self._rebuild_tensor
        self._allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor"): rebuild,
            ("torch._utils", "_rebuild_tensor_v2"): rebuild,
            ("torch._utils", "_rebuild_parameter"): lambda data, *rest: data,
            ("torch._utils", "_rebuild_parameter_with_state"): lambda data, *rest: data,
            ("torch._tensor", "_rebuild_from_type_v2"): lambda func, new_type, args, state: func(*args),
            ("torch", "Tensor"): "torch.Tensor", ("torch.nn.parameter", "Parameter"): "torch.nn.Parameter",
            ("torch", "Size"): lambda dims=(): tuple(dims),
            ("_codecs", "encode"): _latin1_bytes,  # how protocol 2 pickles a bytes object
            # every nn.Module pickled by PyTorch <= 0.4 (the lemniscate release) holds its ``_backend`` as this call
            ("torch.nn.backends.thnn", "_get_thnn_function_backend"): lambda: None,
            ("copyreg", "_reconstructor"): self._reconstructor, ("copy_reg", "_reconstructor"): self._reconstructor,
        }

    def find_class(self, module, name):
        qualified = "%s.%s" % (module, name)
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return _BUILTINS[name]
        if module in ("torch", "torch.cuda") and name.endswith("Storage") and name[:-7] in _DTYPES:
            return type(name, (), {"torch_storage": name[:-7]})
        if qualified in self._stand_ins:
            return self._stand_ins[qualified]
        raise ValueError("%s: refused to load: the pickle calls %s, which is not a tensor, storage, container or "
                         "allowed release class (a .pth must not run code)" % (self._path, qualified))

    def _reconstructor(self, cls, base, state):
        if not (isinstance(cls, type) and issubclass(cls, StandIn)) or base is not object:
            raise ValueError("%s: refused to load: copyreg._reconstructor of %r" % (self._path, cls))
        return cls()

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":  # legacy: an nn.Module's class
            if isinstance(pid[1], type) and issubclass(pid[1], StandIn):
                return pid[1]
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ValueError("%s: refused to load: unexpected persistent id %r" % (self._path, pid[:2]))
        return self._storage_for(pid)

    def _rebuild_tensor(self, storage, offset, size, stride, *rest):
        size = _ints(size, "size", self._path)
        stride = _ints(stride, "stride", self._path)
        offset = _ints([offset], "offset", self._path)[0]
        if storage is None:  # a first, structure-only pass over a legacy file
            return None
        if not isinstance(storage, np.ndarray) or len(size) != len(stride):
            raise ValueError("%s: a tensor with an invalid storage or size/stride" % self._path)
        if 0 in size:
            return np.zeros(size, storage.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise ValueError("%s: a tensor reaches element %d of a storage of %d" % (self._path, last, storage.size))
        if offset == 0 and int(np.prod(size)) == storage.size and stride == _contiguous_strides(size):
            return storage.reshape(size)  # the whole storage in order: a read-only view, no copy
        return np.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride]).copy()


def _contiguous_strides(size):
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _decode(raw, dtype_name, numel, big_endian, path, key):
    """A storage's bytes as a 1-D array (BFloat16, which numpy lacks, widened to float32)."""
    dtype = np.dtype(_DTYPES[dtype_name])
    if len(raw) != numel * dtype.itemsize:
        raise ValueError("%s: storage %s has %d bytes, the pickle says %d elements of %d bytes"
                         % (path, key, len(raw), numel, dtype.itemsize))
    array = np.frombuffer(raw, dtype.newbyteorder(">") if big_endian else dtype)
    if big_endian:
        array = array.astype(dtype)
    if dtype_name == "BFloat16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


class _Storages(object):
    """Storages by key, each decoded once and shared by every tensor on it; ``read(key, dtype name, numel)``
    gives its elements as a 1-D array."""

    def __init__(self, path, read):
        self._path, self._read, self._cache = path, read, {}

    def __call__(self, pid):
        _, storage_class, key, _location, numel = pid[:5]
        name = getattr(storage_class, "torch_storage", None)
        if name is None or not isinstance(numel, int):
            raise ValueError("%s: refused to load: storage %r of type %r" % (self._path, key, storage_class))
        if key not in self._cache:
            self._cache[key] = self._read(key, name, numel)
        array = self._cache[key]
        if len(pid) == 6 and pid[5] is not None:  # legacy storage views: (view key, offset, size)
            start, count = _ints(tuple(pid[5][1:]), "storage view", self._path)
            array = array[start:start + count]
        return array


def _load_zip(path, stand_ins):
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        pkl = sorted(n for n in names if n.endswith("/data.pkl") and n.count("/") == 1)
        if not pkl:
            raise ValueError("%s: a zip file without data.pkl, not a torch.save file" % path)
        prefix = pkl[0][:-len("data.pkl")]
        big = prefix + "byteorder" in names and zf.read(prefix + "byteorder").strip() == b"big"

        def read(key, name, numel):
            member = prefix + "data/" + str(key)
            if member not in names:
                raise ValueError("%s: storage %s is missing from the archive" % (path, member))
            return _decode(zf.read(member), name, numel, big, path, key)

        with zf.open(pkl[0]) as f:
            return _SafeUnpickler(f, path, _Storages(path, read), stand_ins).load()


def _load_legacy(path, stand_ins):
    with open(path, "rb") as f:
        header = _SafeUnpickler(f, path, None, ())
        try:
            magic = header.load()
        except ValueError:
            raise
        except Exception:
            magic = None
        if magic != _LEGACY_MAGIC:
            raise ValueError("%s: not a PyTorch checkpoint (neither torch.save's zip format nor its legacy one)"
                             % path)
        if header.load() != _LEGACY_PROTOCOL:
            raise ValueError("%s: unsupported legacy PyTorch protocol version" % path)
        sys_info = header.load()
        big = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        start, kinds = f.tell(), {}

        def note(pid):  # first pass: the structure only, to learn each storage's element type
            kinds[pid[2]] = getattr(pid[1], "torch_storage", None)

        _SafeUnpickler(f, path, note, stand_ins).load()
        arrays = {}
        for key in _SafeUnpickler(f, path, None, ()).load():
            if kinds.get(key) not in _DTYPES:
                raise ValueError("%s: storage %r is listed but never used" % (path, key))
            numel, = struct.unpack(">q" if big else "<q", f.read(8))
            raw = f.read(numel * np.dtype(_DTYPES[kinds[key]]).itemsize)
            arrays[key] = _decode(raw, kinds[key], numel, big, path, key)
            del raw

        def read(key, name, numel):
            if key not in arrays or arrays[key].size != numel:
                raise ValueError("%s: storage %r is missing or of another size than the pickle says" % (path, key))
            return arrays[key]

        f.seek(start)  # second pass, with the storages
        return _SafeUnpickler(f, path, _Storages(path, read), stand_ins).load()


def load_pth(path, stand_ins=LEMNISCATE_CLASSES):
    """The object a ``.pth`` / ``.pth.tar`` file holds (a checkpoint dict), tensors as numpy arrays, without
    running code from it: a global outside tensors, storages, containers and ``stand_ins`` (dotted class names
    of the release, loaded as ``StandIn`` objects) is a ValueError naming it."""
    if not os.path.isfile(path):
        raise ValueError("%s: no such file" % path)
    try:
        result = _load_zip(path, stand_ins) if zipfile.is_zipfile(path) else _load_legacy(path, stand_ins)
    except (pickle.UnpicklingError, EOFError, struct.error, zipfile.BadZipFile, TypeError, KeyError) as e:
        raise ValueError("%s: a damaged PyTorch file (%s: %s)" % (path, type(e).__name__, str(e).splitlines()[0]
                                                                   if str(e) else ""))
    if not isinstance(result, dict):
        raise ValueError("%s: holds a %s, not a checkpoint dict" % (path, type(result).__name__))
    return result
