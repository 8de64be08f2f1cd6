"""What every command shares: consoles, the error boundary, output formats."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import typer
from rich.console import Console

from onnxbridge.errors import OnnxBridgeError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(str, Enum):
    """Output format of data-producing commands."""

    table = "table"
    json = "json"


def reports_errors(fn: F) -> F:
    """Turn known errors into one line (plus a hint) on stderr and exit code 2; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OnnxBridgeError as exc:
            for problem in exc.problems[:-1] if len(exc.problems) > 1 else []:
                err_console.print(f"[bold red]error:[/] {_escape(problem)}")
            message = exc.problems[-1] if len(exc.problems) > 1 else exc.message
            fail(message, hint=exc.hint, code=exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def fail(message: str, *, hint: str | None = None, code: int = 2) -> None:
    """Print ``error: message`` (and ``hint: ...``) to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {_escape(message)}")
    if hint:
        err_console.print(f"[dim]hint:[/] {_escape(hint)}")
    raise typer.Exit(code)


def report_shape_errors(source: object, errors: list[str]) -> None:
    """Print every shape error on its own ``error:`` line and exit with code 2."""
    for message in errors:
        err_console.print(f"[bold red]error:[/] {_escape(f'{source}: {message}')}")
    raise typer.Exit(2)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (plain, so it pipes cleanly into other tools)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


# terminal control sequences (CSI/OSC/other escapes) and control characters other than tab and newline
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """``text`` with terminal control sequences removed (for text printed without markup, or whose
    markup is already escaped)."""
    return _CONTROL.sub("", str(text))


def shown(text: object) -> str:
    """``text`` safe to print: rich markup escaped, terminal control sequences removed.

    Everything user-supplied (paths, node and layer names, messages that quote them) goes through this
    before it reaches a console, so a file name like ``[red]x`` or one holding escape codes prints as is.
    """
    from rich.markup import escape

    return escape(_CONTROL.sub("", str(text)))


_escape = shown
