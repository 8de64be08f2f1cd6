"""onnxruntime execution providers: resolve what users type ("cuda", "cpu", "trt") to provider names.

Example::

    resolve_provider("cuda")        # 'CUDAExecutionProvider', or an OnnxBridgeError listing the available ones
    session_providers("CUDAExecutionProvider")  # ['CUDAExecutionProvider', 'CPUExecutionProvider']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from onnxbridge.errors import OnnxBridgeError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
SUFFIX = "ExecutionProvider"

# short names people use that are not a substring of the provider's name
_ALIASES = {"trt": "TensorrtExecutionProvider", "gpu": CUDA, "dml": "DmlExecutionProvider",
            "directml": "DmlExecutionProvider", "rocm": "ROCMExecutionProvider"}

# providers whose tensors live in device memory: benchmarks bind inputs and outputs there
DEVICE_MEMORY = {CUDA: "cuda", "TensorrtExecutionProvider": "cuda", "ROCMExecutionProvider": "cuda"}


def available_providers() -> list[str]:
    """The execution providers this onnxruntime build can use, in its order of preference."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def short_name(provider: str) -> str:
    """'CUDAExecutionProvider' -> 'cuda' (for tables and file names)."""
    return (provider[: -len(SUFFIX)] if provider.endswith(SUFFIX) else provider).lower()


def resolve_provider(name: str, available: Sequence[str] | None = None) -> str:
    """The full provider name for ``name``, matched case-insensitively and partially.

    An exact name wins, then an alias ("trt", "gpu"), then the short name ("cuda" matches
    ``CUDAExecutionProvider``), then a unique substring. A name that matches nothing available, or
    more than one provider, raises :class:`OnnxBridgeError` listing the available providers.
    """
    available = list(available_providers() if available is None else available)
    listed = ", ".join(short_name(p) for p in available)
    wanted = name.strip().lower()
    if not wanted:
        raise OnnxBridgeError("empty execution provider name", hint=f"available: {listed}")
    candidates = [p for p in available if p.lower() == wanted]
    if not candidates and wanted in _ALIASES:
        candidates = [p for p in available if p == _ALIASES[wanted]]
    if not candidates:
        candidates = [p for p in available if short_name(p) == wanted]
    if not candidates:
        candidates = [p for p in available if wanted in p.lower()]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise OnnxBridgeError(f"execution provider {name!r} is ambiguous: it matches "
                              f"{', '.join(candidates)}", hint="give more of the name")
    known = _known_provider(wanted)
    if known:
        extra = " (install onnxbridge[gpu] on a machine with CUDA)" if known in DEVICE_MEMORY else ""
        raise OnnxBridgeError(f"execution provider {known} is not available in this onnxruntime build{extra}",
                              hint=f"available: {listed}")
    raise OnnxBridgeError(f"unknown execution provider {name!r}", hint=f"available: {listed}")


def resolve_providers(names: Iterable[str], available: Sequence[str] | None = None) -> list[str]:
    """Resolve several names (each may be a comma-separated list); duplicates are dropped, order kept."""
    resolved: list[str] = []
    for item in names:
        for part in str(item).split(","):
            if part.strip():
                provider = resolve_provider(part, available)
                if provider not in resolved:
                    resolved.append(provider)
    return resolved or [CPU]


def session_providers(provider: str, available: Sequence[str] | None = None) -> list[str]:
    """The provider list for a session that prefers ``provider`` and falls back to the CPU for the rest
    (TensorRT falls back to CUDA first, where CUDA is available, as onnxruntime recommends)."""
    if provider == CPU:
        return [CPU]
    if provider == "TensorrtExecutionProvider":
        available = available_providers() if available is None else available
        if CUDA in available:
            return [provider, CUDA, CPU]
    return [provider, CPU]


def _known_provider(wanted: str) -> str | None:
    """A provider onnxruntime knows of (in some build) that matches ``wanted``, available here or not."""
    import onnxruntime as ort

    every = list(ort.get_all_providers())
    if wanted in _ALIASES:
        return _ALIASES[wanted]
    exact = [p for p in every if p.lower() == wanted or short_name(p) == wanted]
    if exact:
        return exact[0]
    partial = [p for p in every if wanted in p.lower()]
    return partial[0] if len(partial) == 1 else None
