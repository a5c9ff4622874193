"""Edits of a released model's tensors for the "exact or refused" tests: two same-shaped tensors swapped."""


def swapper(a, b):
    """An edit ``fn(arrays) -> arrays`` that swaps tensors ``a`` and ``b`` of a ``{name: array}`` dict in place
    (asserting they have the same shape, so the conversion itself cannot refuse them)."""
    def swap(arrays):
        assert arrays[a].shape == arrays[b].shape, (a, b)
        arrays[a], arrays[b] = arrays[b], arrays[a]
        return arrays
    return swap
