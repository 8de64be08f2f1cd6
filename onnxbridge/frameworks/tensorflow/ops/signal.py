"""Signal processing: the Hann/Hamming/Blackman windows (``tf.signal.hann_window`` and ONNX's cosine sums),
DFT and STFT (``tf.signal.fft`` / ``rfft`` / ``irfft``, ``tf.signal.frame``), MelWeightMatrix.

ONNX carries complex numbers as a trailing axis of 2 (real, imaginary) and real signals with a trailing axis
of 1; the helper layers turn that axis into a complex tensor and back. Sizes given as graph inputs are read
at run time.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, call
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

WINDOW = define("Window", '''
class Window(keras.layers.Layer):
    """A generalised cosine window a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N) of a run-time length, computed
    in float64 (N is the length when periodic, one less when symmetric); Hann is tf.signal.hann_window."""

    def __init__(self, coefficients, periodic=True, dtype_out="float32", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.coefficients, self.periodic, self.dtype_out = list(coefficients), periodic, dtype_out

    def call(self, size):
        size = tf.reshape(tf.cast(size, tf.int32), [])
        if self.coefficients == [0.5, 0.5, 0.0]:
            window = tf.signal.hann_window(size, periodic=self.periodic, dtype=tf.float64)
        else:
            n = tf.range(size, dtype=tf.float64)
            span = tf.cast(size if self.periodic else size - 1, tf.float64)
            a0, a1, a2 = self.coefficients
            window = a0 - a1 * tf.cos(2 * np.pi * n / span) + a2 * tf.cos(4 * np.pi * n / span)
        return tf.cast(window, self.dtype_out)
''')

_COEFFICIENTS = {"HannWindow": (0.5, 0.5, 0.0), "HammingWindow": (25 / 46, 21 / 46, 0.0),
                 "BlackmanWindow": (0.42, 0.5, 0.08)}


def _window(op: str):
    def convert(ctx: TensorFlowContext) -> None:
        dtype = ctx.dtype(int(ctx.attr("output_datatype", onnx.TensorProto.FLOAT)))
        layer = ctx.layer(str(ctx.helper(WINDOW)), module="", coefficients=list(_COEFFICIENTS[op]),
                          periodic=False if not int(ctx.attr("periodic", 1)) else None,
                          dtype_out=dtype if dtype != "float32" else None)
        ctx.emit(call(layer, ctx.tensor_arg(0)))

    TF_OPS.register(op, since=17)(convert)


for _op in _COEFFICIENTS:
    _window(_op)


MEL = define("MelWeightMatrix", '''
class MelWeightMatrix(keras.layers.Layer):
    """Triangular filters from the linear-frequency bins of an FFT to mel bins (ONNX MelWeightMatrix)."""

    def __init__(self, dtype_out="float32", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.dtype_out = dtype_out

    def call(self, num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz):
        bins, length = tf.cast(num_mel_bins, tf.int64), tf.cast(dft_length, tf.int64)
        rate = tf.cast(sample_rate, tf.float64)
        low = 2595 * tf.math.log(1 + tf.cast(lower_edge_hertz, tf.float64) / 700) / np.log(10)
        high = 2595 * tf.math.log(1 + tf.cast(upper_edge_hertz, tf.float64) / 700) / np.log(10)
        mel = tf.range(bins + 2, dtype=tf.float64) * (high - low) / tf.cast(bins + 2, tf.float64) + low
        hertz = 700 * (tf.pow(tf.constant(10, tf.float64), mel / 2595) - 1)
        edges = tf.floor(tf.cast(length + 1, tf.float64) * hertz / rate)
        left, center, right = edges[:-2], edges[1:-1], edges[2:]
        j = tf.range(length // 2 + 1, dtype=tf.float64)[:, None]
        rising = tf.where(center > left, (j - left) / tf.maximum(center - left, 1), tf.ones_like(j - left))
        falling = (right - j) / tf.maximum(right - center, 1)
        weights = tf.where((left <= j) & (j <= center), rising,
                           tf.where((center < j) & (j < right), falling, tf.zeros_like(rising)))
        return tf.cast(weights, self.dtype_out)
''')


@TF_OPS.register("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx: TensorFlowContext) -> None:
    """ONNX ``MelWeightMatrix`` (see the module docstring)."""
    dtype = ctx.dtype(int(ctx.attr("output_datatype", onnx.TensorProto.FLOAT)))
    layer = ctx.layer(str(ctx.helper(MEL)), module="", dtype_out=dtype if dtype != "float32" else None)
    ctx.emit(call(layer, *[ctx.tensor_arg(i) for i in range(5)]))


DFT = define("DiscreteFourierTransform", '''
class DiscreteFourierTransform(keras.layers.Layer):
    """ONNX DFT along one axis of a real ([..., 1]) or complex ([..., 2]) signal: tf.signal.fft / rfft, their
    inverses, optionally one-sided and of a given length (cropped or zero-padded)."""

    def __init__(self, axis, inverse=False, onesided=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.inverse, self.onesided = axis, inverse, onesided

    def call(self, x, length=None):
        rank = len(x.shape) - 1
        order = [a for a in range(rank) if a != self.axis] + [self.axis]
        back = [order.index(a) for a in range(rank)]
        real = x.shape[-1] == 1
        signal = tf.transpose(x[..., 0] if real else tf.complex(x[..., 0], x[..., 1]), order)
        have = tf.shape(signal)[-1]
        if length is None:
            n = 2 * (have - 1) if self.inverse and self.onesided else have
        else:
            n = tf.reshape(tf.cast(length, tf.int32), [])
        if self.inverse and self.onesided:
            out = tf.signal.irfft(tf.cast(signal, tf.complex64 if x.dtype != tf.float64 else tf.complex128), [n])
            return tf.cast(tf.transpose(out, back)[..., None], x.dtype)
        if real and self.onesided and not self.inverse:
            out = tf.signal.rfft(signal, [n])
        else:
            signal = tf.cast(signal, tf.complex64 if x.dtype != tf.float64 else tf.complex128)
            keep = tf.minimum(have, n)
            signal = tf.pad(signal[..., :keep], [[0, 0]] * (rank - 1) + [[0, n - keep]])
            out = tf.signal.ifft(signal) if self.inverse else tf.signal.fft(signal)
            if self.onesided:
                out = out[..., : n // 2 + 1]
        out = tf.transpose(out, back)
        return tf.cast(tf.stack([tf.math.real(out), tf.math.imag(out)], -1), x.dtype)
''')


@TF_OPS.register("DFT", since=17)
def dft(ctx: TensorFlowContext) -> None:
    """ONNX ``DFT`` (see the module docstring)."""
    rank = ctx.rank(0)
    if ctx.shape(0)[-1] not in (1, 2):
        ctx.fail(f"the last axis must be 1 (real) or 2 (complex), got {ctx.shape(0)[-1]!r}")
    if ctx.opset >= 20:
        given = ctx.ints(2) if ctx.has(2) else [-2]
        if given is None:
            ctx.fail("the axis must be known when converting (it decides the output's layout)")
        axis = given[0]
    else:
        axis = int(ctx.attr("axis", 1))
    axis = ctx.axis(axis, rank)
    if axis == rank - 1:
        ctx.fail("the axis cannot be the trailing real/imaginary axis")
    layer = ctx.layer(str(ctx.helper(DFT)), module="", axis=axis, inverse=bool(ctx.attr("inverse", 0)) or None,
                      onesided=bool(ctx.attr("onesided", 0)) or None)
    args = [ctx.x(0)] + ([ctx.tensor_arg(1)] if ctx.has(1) else [])
    ctx.emit(call(layer, *args))


STFT = define("ShortTimeFourierTransform", '''
class ShortTimeFourierTransform(keras.layers.Layer):
    """ONNX STFT of [batch, length, 1 or 2] signals: frames of frame_length samples every frame_step
    (tf.signal.frame), each weighted by the window, then a DFT per frame (one-sided for real signals)."""

    def __init__(self, onesided=True, frame_length=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.onesided, self.frame_length = onesided, frame_length

    def call(self, x, step, window=None, length=None):
        real = x.shape[-1] == 1
        signal = x[..., 0] if real else tf.complex(x[..., 0], x[..., 1])
        n = self.frame_length if length is None else tf.reshape(tf.cast(length, tf.int32), [])
        frames = tf.signal.frame(signal, n, tf.reshape(tf.cast(step, tf.int32), []), axis=-1)
        if window is not None:
            frames = frames * tf.cast(window, frames.dtype)
        if real and self.onesided:
            out = tf.signal.rfft(frames, [n])
        else:
            out = tf.signal.fft(tf.cast(frames, tf.complex64 if x.dtype != tf.float64 else tf.complex128))
            if self.onesided:
                out = out[..., : n // 2 + 1]
        return tf.cast(tf.stack([tf.math.real(out), tf.math.imag(out)], -1), x.dtype)
''')


@TF_OPS.register("STFT", since=17)
def stft(ctx: TensorFlowContext) -> None:
    """ONNX ``STFT`` (see the module docstring)."""
    if len(ctx.shape(0)) != 3:
        ctx.fail("the signal must be [batch, length, 1 or 2]")
    frame_length = None
    if not ctx.has(3):
        window = ctx.type(2).shape if ctx.has(2) else None
        if not window or not isinstance(window[0], int):
            ctx.fail("the frame length must be given (frame_length or a window of known size)")
        frame_length = int(window[0])
    layer = ctx.layer(str(ctx.helper(STFT)), module="", onesided=False if not int(ctx.attr("onesided", 1)) else None,
                      frame_length=frame_length)
    args = [ctx.x(0), ctx.tensor_arg(1), ctx.tensor_arg(2) if ctx.has(2) else Code("None")]
    if ctx.has(3):
        args.append(ctx.tensor_arg(3))
    ctx.emit(call(layer, *args))
