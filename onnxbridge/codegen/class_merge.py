"""One generated class for a block used at several widths, its sizes as constructor parameters.

A block function called with weights of different shapes is planned once per signature, so the code
generators (PyTorch ``nn.Module`` and Keras ``Layer`` classes alike) write one class per signature
(``BasicBlock`` for 16 channels, ``BasicBlock2`` for 32). When those classes differ only in integer literals
of their constructor, :func:`merge_block_classes` turns them into one class whose constructor takes those
numbers, and :func:`with_arguments` rewrites the instances::

    class BasicBlock(nn.Module):
        def __init__(self, channels):
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    ...
    self.block1 = BasicBlock(channels=16)
    self.block3 = BasicBlock(channels=32)

Classes that differ in anything else (a stride that adds a ``F.pad`` to ``forward``) stay separate.
Parameter names come from the constructor argument they fill (``in_channels``, ``out_features``,
``filters``, ``stride``); a size filling several of them is named after what they share (``channels``).
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from dataclasses import dataclass

# positional parameters of the torch modules the generator writes, to name the sizes they take
POSITIONAL = {
    "Conv1d": ("in_channels", "out_channels", "kernel_size"), "Conv2d": ("in_channels", "out_channels", "kernel_size"),
    "Conv3d": ("in_channels", "out_channels", "kernel_size"),
    "ConvTranspose1d": ("in_channels", "out_channels", "kernel_size"),
    "ConvTranspose2d": ("in_channels", "out_channels", "kernel_size"),
    "ConvTranspose3d": ("in_channels", "out_channels", "kernel_size"),
    "Linear": ("in_features", "out_features"), "Bilinear": ("in1_features", "in2_features", "out_features"),
    "BatchNorm1d": ("num_features",), "BatchNorm2d": ("num_features",), "BatchNorm3d": ("num_features",),
    "InstanceNorm1d": ("num_features",), "InstanceNorm2d": ("num_features",), "InstanceNorm3d": ("num_features",),
    "LayerNorm": ("normalized_shape",), "RMSNorm": ("normalized_shape",), "GroupNorm": ("num_groups", "num_channels"),
    "Embedding": ("num_embeddings", "embedding_dim"), "LSTM": ("input_size", "hidden_size"),
    "GRU": ("input_size", "hidden_size"), "RNN": ("input_size", "hidden_size"),
    "MultiheadAttention": ("embed_dim", "num_heads"), "PReLU": ("num_parameters",),
}


@dataclass
class MergedClass:
    """The merged class (``name``, ``source``) and, per original class name, the constructor arguments its
    instances get (``channels=32``)."""

    name: str
    source: str
    arguments: dict[str, str]


def with_arguments(text: str, merged: MergedClass) -> str:
    """``text`` with every instance of a merged class (``BasicBlock2()``, ``BasicBlock_2(name='b3')``)
    rewritten to the merged class with its arguments (``BasicBlock(channels=32, name='b3')``)."""
    names = sorted(merged.arguments, key=len, reverse=True)
    pattern = re.compile(rf"(?<!class )\b({'|'.join(map(re.escape, names))})\((\))?")

    def instance(m: re.Match[str]) -> str:
        args = merged.arguments[m[1]]
        if not args:
            return f"{merged.name}({m[2] or ''}"
        return f"{merged.name}({args})" if m[2] else f"{merged.name}({args}, "

    return pattern.sub(instance, text)  # one pass: a rewritten call is never rewritten again


def merge_block_classes(name: str, sources: dict[str, str]) -> MergedClass | None:
    """Merge the classes ``sources`` (class name -> source, all of one block) into one class ``name``.

    None when they differ in more than integer literals of ``__init__``; classes that do not differ at all
    become one class without parameters.
    """
    names = list(sources)
    streams = [_tokens(sources[n], n) for n in names]
    if any(s is None for s in streams) or len({len(s) for s in streams}) != 1:  # type: ignore[arg-type]
        return None
    first = streams[0]
    assert first is not None
    init = _init_span(first)
    if init is None:
        return None
    slots: list[int] = []
    for i, tok in enumerate(first):
        texts = {s[i].string for s in streams}  # type: ignore[index]
        if len(texts) == 1:
            continue
        if tok.type != tokenize.NUMBER or not init[0] <= i < init[1] or \
                any(not re.fullmatch(r"\d+", t) for t in texts):
            return None
        slots.append(i)
    # one parameter per distinct column of values; named from the argument(s) it fills
    columns: dict[tuple[str, ...], list[int]] = {}
    for i in slots:
        columns.setdefault(tuple(s[i].string for s in streams), []).append(i)  # type: ignore[index]
    params: dict[tuple[str, ...], str] = {}
    taken = set(keyword.kwlist) | {"self", "nn", "torch", "F"}
    for values, where in columns.items():
        base = _param_name([_argument_name(first, i) for i in where])
        chosen, k = base, 1
        while chosen in taken:
            k += 1
            chosen = f"{base}_{k}"
        taken.add(chosen)
        params[values] = chosen
    by_slot = {i: params[v] for v, where in columns.items() for i in where}
    source = _rewrite(sources[names[0]], first, by_slot, name, list(params.values()))
    arguments = {n: ", ".join(f"{p}={values[k]}" for values, p in params.items()) for k, n in enumerate(names)}
    return MergedClass(name, source, arguments)


def _tokens(source: str, class_name: str) -> list[tokenize.TokenInfo] | None:
    """The class's tokens with its own name taken out (the names differ by design)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    return [t for k, t in enumerate(toks) if not (k > 0 and toks[k - 1].string == "class" and t.string == class_name)]


def _init_span(toks: list[tokenize.TokenInfo]) -> tuple[int, int] | None:
    """Token indices of ``def __init__`` up to the next ``def``."""
    start = next((i for i in range(len(toks) - 1) if toks[i].string == "def" and toks[i + 1].string == "__init__"),
                 None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(toks)) if toks[i].string == "def"), len(toks))
    return start, end


def _argument_name(toks: list[tokenize.TokenInfo], i: int) -> str:
    """What the number at ``i`` is: its keyword (``stride=2``) or the positional name of the module
    argument it fills (``nn.Conv2d(16, ...)`` -> ``in_channels``); ``size`` when unknown."""
    if i >= 2 and toks[i - 1].string == "=" and toks[i - 2].type == tokenize.NAME:
        return toks[i - 2].string
    depth, position, k = 0, 0, i - 1
    while k >= 0:
        s = toks[k].string
        if s in ")]}":
            depth += 1
        elif s in "([{":
            if depth == 0:
                break
            depth -= 1
        elif s == "," and depth == 0:
            position += 1
        k -= 1
    if k >= 1 and toks[k].string == "(" and toks[k - 1].type == tokenize.NAME:
        names = POSITIONAL.get(toks[k - 1].string, ())
        if position < len(names):
            return names[position]
    return "size"


def _param_name(names: list[str]) -> str:
    """One name for a size that fills ``names`` (``in_channels`` and ``out_channels`` -> ``channels``)."""
    distinct = list(dict.fromkeys(names))
    if len(distinct) == 1:
        return distinct[0]
    for word in ("channels", "features", "size", "dim"):
        if any(word in n for n in distinct):
            return word
    return distinct[0]


def _rewrite(source: str, toks: list[tokenize.TokenInfo], by_slot: dict[int, str], name: str,
             params: list[str]) -> str:
    lines = source.splitlines()
    for i in sorted(by_slot, key=lambda k: toks[k].start, reverse=True):  # right to left keeps columns valid
        (row, col), (_, end) = toks[i].start, toks[i].end
        text = lines[row - 1]
        lines[row - 1] = text[:col] + by_slot[i] + text[end:]
    out = "\n".join(lines) + "\n"
    out = re.sub(r"^class \w+\(", f"class {name}(", out, count=1, flags=re.M)
    if not params:
        return out
    return re.sub(r"def __init__\(self(, \*\*kwargs)?\):", lambda m: f"def __init__(self, {', '.join(params)}{m[1] or ''}):",
                  out, count=1)
