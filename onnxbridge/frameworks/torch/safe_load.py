"""Load PyTorch archives without unpickling anything a file carries.

``torch.export.load`` unpickles parts of a ``.pt2`` archive on its own: the sample inputs and pickled
weights or constants with ``torch.load(..., weights_only=False)`` (after a ``weights_only=True`` attempt
fails, for the sample inputs), opaque constants with ``pickle.loads`` and script objects with
``torch._C._pickle_load_obj``. Any of these runs code a hostile archive carries. :func:`no_unpickling`
closes every such door for the duration of a load: ``torch.load`` always runs with ``weights_only=True``
(tensors and plain containers only) and the raw unpicklers refuse.
"""

from __future__ import annotations

import contextlib
import pickle  # noqa: S403 - only to hand its non-loading parts through
import types
from collections.abc import Iterator
from typing import Any


class UnpicklingRefused(RuntimeError):
    """Raised inside :func:`no_unpickling` when a loader tries to unpickle arbitrary objects."""


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise UnpicklingRefused("the archive holds pickled Python objects, which onnxbridge does not unpickle "
                            "(that can run arbitrary code)")


@contextlib.contextmanager
def no_unpickling() -> Iterator[None]:
    """Within the block, ``torch.load`` is forced to ``weights_only=True`` and raw unpicklers refuse.

    Example::

        with no_unpickling():
            program = torch.export.load(path)
    """
    import torch
    import torch.serialization
    from torch.export.pt2_archive import _package

    real_load = torch.serialization.load

    def weights_only_load(f: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True  # whatever the caller asked for
        kwargs.pop("pickle_module", None)
        return real_load(f, *args, **kwargs)

    patches: list[tuple[Any, str, Any]] = [
        (torch, "load", weights_only_load),
        (torch.serialization, "load", weights_only_load),
        (torch._C, "_pickle_load_obj", _refuse),
        (_package, "pickle", types.SimpleNamespace(**{**vars(pickle), "loads": _refuse, "load": _refuse,
                                                        "Unpickler": _refuse})),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
