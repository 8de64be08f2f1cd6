"""Loading a model into onnxruntime for measuring: the session (on one preferred provider) and its run.

Example::

    session = create_session(model_bytes, "CUDAExecutionProvider", threads=4)
    run, fetch = session_runner(session, "CUDAExecutionProvider", feeds)
    run()                       # what a benchmark times (I/O bound to the device)
    outputs = fetch()           # host copies of the outputs
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.runtime.providers import CPU, DEVICE_MEMORY, session_providers
from onnxbridge.runtime.results import error_line

OPT_LEVELS = ("disable", "basic", "extended", "all")


def create_session(model_bytes: bytes, provider: str, *, threads: int | None = None, opt_level: str = "all",
                   profile_prefix: str | None = None) -> Any:
    """An onnxruntime session preferring ``provider`` (CPU for the rest), or a clear error.

    Raises when the provider is compiled in but could not be initialised (onnxruntime then silently
    falls back to the CPU, which would make every figure a CPU figure).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    if threads:
        opts.intra_op_num_threads = threads
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    try:
        session = ort.InferenceSession(model_bytes, opts, providers=session_providers(provider))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for invalid models
        raise OnnxBridgeError(f"onnxruntime cannot load the model with {provider}: {error_line(exc)}",
                              hint="run 'onnxbridge check' on it") from None
    if provider not in session.get_providers():
        raise OnnxBridgeError(f"{provider} is built into onnxruntime but could not be initialised "
                              f"(the session runs on {', '.join(session.get_providers())})",
                              hint="check the GPU driver and the CUDA/cuDNN libraries onnxruntime needs")
    return session


def session_runner(session: Any, provider: str, feeds: Mapping[str, np.ndarray]
                   ) -> tuple[Callable[[], object], Callable[[], list[np.ndarray]]]:
    """(run, fetch): ``run()`` is what gets timed; ``fetch()`` returns host copies of the outputs.

    On device-memory providers (CUDA, TensorRT) inputs are copied to the device once and outputs stay
    there (I/O binding), so the timing is the model's, as it is for the native frameworks on the GPU.
    """
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    device = DEVICE_MEMORY.get(provider)
    if device is None:
        return (lambda: session.run(None, feeds)), (lambda: session.run(None, feeds))
    import onnxruntime as ort

    binding = session.io_binding()
    for name, array in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(np.require(array, requirements="C"), device, 0))
    for out in session.get_outputs():
        binding.bind_output(out.name, device)
    return (lambda: session.run_with_iobinding(binding)), (lambda: session.run(None, feeds))


def reference_outputs(model_bytes: bytes, feeds: Mapping[str, np.ndarray], opt_level: str) -> list[np.ndarray]:
    """The outputs of a CPU session: what every other configuration is compared with."""
    session = create_session(model_bytes, CPU, opt_level=opt_level)
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})
