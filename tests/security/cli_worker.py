"""A long-lived child process that runs command lines in-process, for the fuzzing tests.

Starting ``python -m onnxbridge`` costs about a second; hundreds of fuzzed inputs need the command line
to run in a warm process instead, yet isolated from the test process: a crash (a segfault in a native
library), a hang or a runaway allocation must show up as a failed example, not take pytest down. The
child runs under an address-space limit; the parent kills and restarts it on a timeout.

Example::

    with CliWorker() as cli:
        result = cli.run(["summary", "net.yaml"])
        assert result.clean, result.describe()
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import resource
import traceback
from dataclasses import dataclass

GiB = 2**30


@dataclass
class CliResult:
    """How one command line ended: its exit code and output, or a traceback, a crash or a hang."""

    args: list[str]
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str | None = None
    crashed: int | None = None  # the child's exit code when it died (negative: the signal)
    hung: bool = False

    @property
    def clean(self) -> bool:
        """Success (0), a finding (1) or one clear input error (2): no traceback, crash or hang."""
        return (self.traceback is None and self.crashed is None and not self.hung and self.code in (0, 1, 2)
                and "Traceback" not in self.stderr and "Traceback" not in self.stdout
                and (self.code != 2 or "error:" in self.stderr))

    def describe(self) -> str:
        if self.hung:
            return f"{self.args}: did not finish in time"
        if self.crashed is not None:
            return f"{self.args}: the process died ({self.crashed})"
        return (f"{self.args}: exit {self.code}\n--- traceback\n{self.traceback or ''}\n--- stderr\n"
                f"{self.stderr[-3000:]}\n--- stdout\n{self.stdout[-1500:]}")


def _serve(conn, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.environ["COLUMNS"] = "200"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from onnxbridge.cli.app import main

    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        out, err = io.StringIO(), io.StringIO()
        code, tb = None, None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - anything else is what the fuzzer looks for
                tb = traceback.format_exc()
        conn.send((code, out.getvalue(), err.getvalue(), tb))


class CliWorker:
    """Runs ``onnxbridge`` command lines in a child process (see the module docstring)."""

    def __init__(self, *, memory: int = 6 * GiB, timeout: float = 120.0):
        self.memory = memory
        self.timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None

    def __enter__(self) -> CliWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(target=_serve, args=(child, self.memory), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent

    def run(self, args: list[object], timeout: float | None = None) -> CliResult:
        """Run one command line; a crash or a hang is reported in the result and the child restarted."""
        args = [str(a) for a in args]
        if self._process is None or not self._process.is_alive():
            self._start()
        assert self._conn is not None and self._process is not None
        self._conn.send(args)
        if not self._conn.poll(timeout or self.timeout):
            self.close()
            return CliResult(args, hung=True)
        try:
            code, stdout, stderr, tb = self._conn.recv()
        except (EOFError, ConnectionError):
            self._process.join(5)
            crashed = self._process.exitcode
            self.close()
            return CliResult(args, crashed=crashed if crashed is not None else -1)
        return CliResult(args, code, stdout, stderr, tb)

    def close(self) -> None:
        """Stop the child (it is started again by the next :meth:`run`)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(10)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None
