"""Layout changes between the releases' frameworks and the project's TF1 variables (numpy in, numpy out)."""
import numpy as np

__all__ = ["oihw_to_hwio", "linear_to_dense", "conv1x1_to_dense", "bgr_to_rgb_first_conv"]


def _check_rank(w, rank, what):
    w = np.asarray(w)
    if w.ndim != rank:
        raise ValueError("%s: expected a rank-%d array, got shape %s" % (what, rank, w.shape))
    return w


def oihw_to_hwio(w):
    """A PyTorch conv kernel ``[out, in, h, w]`` as a TF kernel ``[h, w, in, out]``."""
    return np.ascontiguousarray(_check_rank(w, 4, "oihw_to_hwio").transpose(2, 3, 1, 0))


def linear_to_dense(w):
    """A PyTorch ``nn.Linear`` weight ``[out, in]`` as a TF dense kernel ``[in, out]``."""
    return np.ascontiguousarray(_check_rank(w, 2, "linear_to_dense").T)


def conv1x1_to_dense(w):
    """A 1x1 conv kernel ``[1, 1, in, out]`` (e.g. a logits layer written as a conv) as a dense kernel ``[in, out]``."""
    w = _check_rank(w, 4, "conv1x1_to_dense")
    if w.shape[:2] != (1, 1):
        raise ValueError("conv1x1_to_dense: expected a [1, 1, in, out] kernel, got shape %s" % (w.shape,))
    return np.ascontiguousarray(w[0, 0])


def bgr_to_rgb_first_conv(w):
    """A first-conv HWIO kernel of a network fed BGR, for RGB input: the input-channel axis reversed."""
    w = _check_rank(w, 4, "bgr_to_rgb_first_conv")
    if w.shape[2] != 3:
        raise ValueError("bgr_to_rgb_first_conv: expected 3 input channels, got shape %s" % (w.shape,))
    return np.ascontiguousarray(w[:, :, ::-1, :])
