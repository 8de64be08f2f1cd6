"""Limits that keep a hostile or mistaken input from exhausting the machine, each one raisable.

A spec file is small, but YAML aliases and nested blocks multiply it: 600 bytes can stand for 10⁸ values,
and a 2 KB spec whose blocks use each other ten times over seven levels is ten million layers. A
parameter or a batch size can ask for more memory than the machine has. Each of these is refused up
front, before the work starts, with one line that names the limit and the environment variable that
raises it::

    error: net.yaml: with its YAML aliases expanded the document is more than 33,554,432 bytes
    hint: set ONNXBRIDGE_MAX_SPEC_BYTES above 33,554,432 to allow it

Example::

    from onnxbridge.limits import limit, memory_budget
    limit("max_layers")          # 100000, or $ONNXBRIDGE_MAX_LAYERS when set
    memory_budget()              # bytes: $ONNXBRIDGE_MAX_MEMORY, else this machine's memory
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from onnxbridge.errors import LimitError


@dataclass(frozen=True)
class Limit:
    """One limit: its environment variable, default and what it counts."""

    name: str
    env: str
    default: int
    counts: str


LIMITS: dict[str, Limit] = {lim.name: lim for lim in (
    Limit("max_spec_bytes", "ONNXBRIDGE_MAX_SPEC_BYTES", 32 * 2**20,
          "bytes of a spec, as a file and with its YAML aliases and blocks expanded"),
    Limit("max_spec_depth", "ONNXBRIDGE_MAX_SPEC_DEPTH", 100, "levels of nesting in a spec document"),
    Limit("max_layers", "ONNXBRIDGE_MAX_LAYERS", 100_000, "layers of a spec once its blocks are expanded"),
    Limit("max_block_depth", "ONNXBRIDGE_MAX_BLOCK_DEPTH", 16, "levels of blocks inside blocks"),
)}

MEMORY_ENV = "ONNXBRIDGE_MAX_MEMORY"
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)i?b?\s*$", re.IGNORECASE)


def limit(name: str) -> int:
    """The value of limit ``name``: its environment variable when set (a positive integer), else the default."""
    lim = LIMITS[name]
    raw = os.environ.get(lim.env)
    if raw is None or not raw.strip():
        return lim.default
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise LimitError(f"{lim.env}={raw!r} is not a positive integer", env=lim.env,
                         hint=f"set it to a number of {lim.counts}, or unset it for {lim.default:,}")
    return value


def exceeded(name: str, message: str) -> LimitError:
    """The error for passing limit ``name``; ``message`` says where and by how much, in the caller's words."""
    lim = LIMITS[name]
    return LimitError(message, env=lim.env, hint=f"set {lim.env} above {limit(name):,} to allow it")


def memory_budget() -> int:
    """Bytes a command may plan to use: ``$ONNXBRIDGE_MAX_MEMORY`` (e.g. ``64G``), else the machine's memory.

    The machine's memory is the smallest of the physical memory, the cgroup limit (containers) and the
    address-space limit (``ulimit -v``), whichever are known.
    """
    raw = os.environ.get(MEMORY_ENV)
    if raw is not None and raw.strip():
        match = _SIZE.match(raw)
        if not match or float(match.group(1)) <= 0:
            raise LimitError(f"{MEMORY_ENV}={raw!r} is not a size such as 16G or 512M", env=MEMORY_ENV,
                             hint="unset it to plan with this machine's memory")
        scale = 1024 ** " kmgtp".index((match.group(2) or " ").lower())
        return int(float(match.group(1)) * scale)
    return machine_memory()


def machine_memory() -> int:
    """The memory this process can have, in bytes (see :func:`memory_budget`)."""
    known: list[int] = []
    try:
        known.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text.isdigit():
            known.append(int(text))
    except OSError:
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            known.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(known) if known else 2**63 - 1


def check_memory(needed: int, what: str, *, hint: str | None = None) -> None:
    """Raise :class:`LimitError` when ``needed`` bytes exceed :func:`memory_budget`; ``what`` names the use."""
    budget = memory_budget()
    if needed > budget:
        source = (f"{MEMORY_ENV}={os.environ[MEMORY_ENV]}" if os.environ.get(MEMORY_ENV, "").strip()
                  else "this machine's memory")
        raise LimitError(f"{what} needs {format_bytes(needed)}, more than {source} ({format_bytes(budget)})",
                         env=MEMORY_ENV, hint=hint)


def format_bytes(n: float) -> str:
    """``1.5 GiB``, ``3.6 PiB``, ``512 B``; sizes beyond PiB in PiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PiB" if n < 1e6 else f"{n:.2g} PiB"
