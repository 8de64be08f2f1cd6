"""Signal processing: the Hann/Hamming/Blackman windows (``torch.hann_window`` ...), DFT and STFT
(``torch.fft``), MelWeightMatrix.

ONNX carries complex numbers as a trailing axis of 2 (real, imaginary) and real signals with a trailing axis
of 1; the converters turn that axis into a complex tensor (``torch.view_as_complex``) and back
(``torch.view_as_real``). Sizes given as graph inputs are read at run time.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.dtypes import FLOAT_TYPES

REG = TORCH_OPS.register


def size_code(ctx: TorchContext, i: int) -> Code:
    """A scalar size input as a Python int: a literal when known now, else ``int(x)`` at run time."""
    value = ctx.ints(i)
    return lit(value[0]) if value is not None else fmt("int({})", ctx.t(i))


def _window(function: str, *coefficients: float):
    def convert(ctx: TorchContext) -> None:
        elem = int(ctx.attr("output_datatype", onnx.TensorProto.FLOAT))
        periodic = bool(int(ctx.attr("periodic", 1)))
        # torch takes the coefficients positionally, after periodic
        args = [lit(periodic), *(lit(c) for c in coefficients)] if coefficients or not periodic else []
        # computed in float64, as ONNX defines it, so the symmetric ends come out as exact zeros
        window = fn(function, size_code(ctx, 0), *args, dtype=Code("torch.float64"))
        ctx.emit(fmt("{}.to({})", window, ctx.dtype(elem)))

    return convert


REG("HannWindow", since=17)(_window("torch.hann_window"))
# ONNX's Hamming window is the "optimal" one (alpha = 25/46); torch's default is alpha = 0.54
REG("HammingWindow", since=17)(_window("torch.hamming_window", 25 / 46, 21 / 46))
REG("BlackmanWindow", since=17)(_window("torch.blackman_window"))


@REG("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx: TorchContext) -> None:
    """ONNX ``MelWeightMatrix`` (see the module docstring)."""
    elem = int(ctx.attr("output_datatype", onnx.TensorProto.FLOAT))
    args = [size_code(ctx, i) for i in range(3)] + [ctx.t(3), ctx.t(4)]
    ctx.emit(fn(ctx.helper("onnx_mel_weight_matrix"), *args, ctx.dtype(elem)))


def _complex(ctx: TorchContext, x: Code) -> Code:
    """``x`` (trailing axis 1 or 2) as a real or complex tensor without that axis."""
    last = ctx.shape(0)[-1]
    if last == 1:
        return fmt("{}[..., 0]", x)
    if last == 2:
        return fn("torch.view_as_complex", fmt("{}.contiguous()", x))
    ctx.fail(f"the last axis must be 1 (real) or 2 (complex), got {last!r}")


def _signal_axis(ctx: TorchContext) -> int:
    """The transformed axis, counted on the signal without its trailing real/imaginary axis."""
    rank = ctx.rank(0)
    if ctx.opset >= 20 or ctx.n_inputs > 2:
        if ctx.has(2):
            given = ctx.ints(2)
            if given is None:
                ctx.fail("the axis must be known when converting (it decides the output's layout)")
            axis = given[0]
        else:
            axis = -2
    else:
        axis = int(ctx.attr("axis", 1))
    axis = ctx.axis(axis, rank)
    if axis == rank - 1:
        ctx.fail("the axis cannot be the trailing real/imaginary axis")
    return axis


@REG("DFT", since=17)
def dft(ctx: TorchContext) -> None:
    """ONNX ``DFT`` (see the module docstring)."""
    if ctx.elem(0) not in FLOAT_TYPES:
        ctx.fail("the signal must be a float tensor")
    axis = lit(_signal_axis(ctx))
    inverse, onesided = int(ctx.attr("inverse", 0)), int(ctx.attr("onesided", 0))
    n = {"n": size_code(ctx, 1)} if ctx.has(1) else {}
    signal = _complex(ctx, ctx.t(0))
    dtype = ctx.dtype(ctx.elem(0))
    if inverse and onesided:
        ctx.emit(fmt("{}.unsqueeze(-1).to({})", fn("torch.fft.irfft", signal, **n, dim=axis), dtype))
        return
    if inverse:
        spectrum = fn("torch.fft.ifft", signal, **n, dim=axis)
    elif onesided and ctx.shape(0)[-1] == 1:
        spectrum = fn("torch.fft.rfft", signal, **n, dim=axis)
    else:
        spectrum = fn("torch.fft.fft", signal, **n, dim=axis)
        if onesided:
            full = ctx.temp("spectrum")
            ctx.line("{} = {}", full, spectrum)
            spectrum = fmt("{}.narrow({}, 0, {}.shape[{}] // 2 + 1)", full, axis, full, axis)
    ctx.emit(fmt("torch.view_as_real({}).to({})", spectrum, dtype))


@REG("STFT", since=17)
def stft(ctx: TorchContext) -> None:
    """ONNX ``STFT`` (see the module docstring)."""
    shape = ctx.shape(0)
    if len(shape) != 3:
        ctx.fail("the signal must be [batch, length, 1 or 2]")
    onesided = int(ctx.attr("onesided", 1))
    step = size_code(ctx, 1)
    if ctx.has(3):
        n = size_code(ctx, 3)
    elif ctx.has(2) and ctx.shape(2) and isinstance(ctx.shape(2)[0], int):
        n = lit(ctx.shape(2)[0])
    else:
        ctx.fail("the frame length must be given (frame_length or a window of known size)")
    signal = _complex(ctx, ctx.t(0))
    # frames of n samples every step samples, each weighted by the window, then a DFT per frame
    frames = ctx.temp("frames")
    ctx.line("{} = {}.unfold(-1, {}, {})", frames, signal, n, step)
    if ctx.has(2):
        ctx.line("{} = {} * {}", frames, frames, ctx.t(2))
    if onesided and shape[-1] == 1:
        spectrum = fn("torch.fft.rfft", frames, dim=lit(-1))
    else:
        spectrum = fn("torch.fft.fft", frames, dim=lit(-1))
        if onesided:
            spectrum = fmt("{}[..., : {} // 2 + 1]", spectrum, n)
    ctx.emit(fmt("torch.view_as_real({}).to({})", spectrum, ctx.dtype(ctx.elem(0))))

