"""The root command: it only wires the commands together (each lives in its own module)."""

from __future__ import annotations

import typer

from onnxbridge import __version__
from onnxbridge.cli import (
    bench,
    build,
    check,
    convert,
    devices,
    diff,
    layers,
    run,
    schema,
    summary,
    train,
    view,
)
from onnxbridge.cli.studio import command as studio_command

app = typer.Typer(
    name="onnxbridge",
    help="Build neural networks from a spec, keep them in ONNX, move them between PyTorch and TensorFlow "
         "(every conversion verified), check them, and run them on your hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"onnxbridge {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                      callback=_version, is_eager=True)) -> None:
    """onnxbridge command line."""


app.command("build")(build.command)
app.command("convert")(convert.command)
app.command("summary")(summary.command)
app.command("layers")(layers.command)
app.command("run")(run.command)
app.command("schema")(schema.command)
app.command("view")(view.command)
app.command("devices")(devices.command)
app.command("bench")(bench.command)
app.command("check")(check.command)
app.command("diff")(diff.command)
app.command("studio")(studio_command)
app.command("train")(train.command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the command line and exits with its code.

    A mistake on the command line (an unknown option, a value of the wrong type) is one ``error:`` line
    with a hint and exit code 2, like every other input error.
    """
    import sys

    from onnxbridge.cli.common import err_console, fail

    try:
        code = app(argv, standalone_mode=False)
    except typer.Abort:
        err_console.print("aborted")
        code = 1
    except typer.TyperException as exc:  # click's usage errors (typer bundles click)
        code = getattr(exc, "exit_code", 2)
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "onnxbridge"
            try:
                fail(exc.format_message(), hint=f"see '{command} --help'", code=code)
            except typer.Exit:
                pass
    sys.exit(code if isinstance(code, int) else 0)
