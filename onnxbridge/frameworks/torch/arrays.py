"""numpy arrays <-> torch tensors for every element type both sides hold, the ``ml_dtypes`` ones included.

``torch.from_numpy`` and ``Tensor.numpy()`` refuse bfloat16 and the float8 types (numpy itself has none;
ONNX hands them out as ``ml_dtypes`` arrays): those go through their bits, as unsigned integers of the same
width. Scalars keep their shape (``np.ascontiguousarray`` would make them 1-D), and read-only arrays are
copied (torch tensors must be writable).

Example::

    tensor = tensor_from_numpy(np.zeros((2, 3), ml_dtypes.bfloat16))   # torch.bfloat16
    array = numpy_from_tensor(tensor)                                  # ml_dtypes.bfloat16 again
"""

from __future__ import annotations

from typing import Any

import numpy as np

# torch dtype name -> (ml_dtypes name, the unsigned type of the same width)
_BY_BITS = {
    "bfloat16": ("bfloat16", np.uint16),
    "float8_e4m3fn": ("float8_e4m3fn", np.uint8),
    "float8_e4m3fnuz": ("float8_e4m3fnuz", np.uint8),
    "float8_e5m2": ("float8_e5m2", np.uint8),
    "float8_e5m2fnuz": ("float8_e5m2fnuz", np.uint8),
    "float8_e8m0fnu": ("float8_e8m0fnu", np.uint8),
}
_BY_ML_NAME = {ml: torch_name for torch_name, (ml, _) in _BY_BITS.items()}
_BITS_DTYPE = {np.uint8: "uint8", np.uint16: "uint16"}


def tensor_from_numpy(array: Any) -> Any:
    """A torch tensor with ``array``'s shape, dtype and values (shares memory when it can)."""
    import torch

    array = np.asarray(array)
    if not array.flags.c_contiguous or not array.flags.writeable:
        array = np.array(array, order="C", copy=True)
    torch_name = _BY_ML_NAME.get(array.dtype.name)
    if torch_name is None:
        return torch.from_numpy(array)
    bits = _BY_BITS[torch_name][1]
    return torch.from_numpy(array.view(bits)).view(getattr(torch, _BITS_DTYPE[bits])).view(getattr(torch, torch_name))


def numpy_from_tensor(tensor: Any) -> np.ndarray:
    """A numpy array of ``tensor`` (moved to the CPU), ``ml_dtypes`` for bfloat16 and the float8 types."""
    import torch

    tensor = tensor.detach().cpu()
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in _BY_BITS:
        return tensor.numpy()
    import ml_dtypes

    ml_name, bits = _BY_BITS[name]
    return tensor.view(getattr(torch, _BITS_DTYPE[bits])).numpy().view(getattr(ml_dtypes, ml_name))
