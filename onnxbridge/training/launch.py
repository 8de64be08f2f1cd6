"""What every distributed launch shares: the worker command, running and stopping worker processes, and
the reachability of a master address.

Each framework's bridge launches on its own engine (``frameworks/<name>/launch.py``: torchrun for
PyTorch, ``TF_CONFIG`` workers for TensorFlow) with these pieces. Workers run the same ``onnxbridge
train`` command without the launch options (:func:`worker_command`); they find their rank in the
environment the engine gives them. The command lines are the ones that run locally *and* the ones written
into launch files (:mod:`.launch_files`), so a cluster runs exactly what was tried on one machine.
"""

from __future__ import annotations

import errno
import os
import shlex
import signal
import socket
import subprocess
import time

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.training.options import TrainOptions


class LaunchError(OnnxBridgeError):
    """A distributed run could not start or one of its processes failed."""


def worker_command(network: str, run_dir: str, options: TrainOptions, *, resume: bool = False,
                   program: list[str] | None = None) -> list[str]:
    """``onnxbridge train NETWORK [options] -o RUN_DIR``: what every process of a distributed run runs."""
    base = program if program is not None else ["onnxbridge"]
    cmd = [*base, "train", network, *options.cli_args(), "-o", run_dir]
    if resume:
        cmd += ["--resume", run_dir]
    return cmd


def shell_line(cmd: list[str]) -> str:
    """A command as one shell line (each argument quoted when needed)."""
    return " ".join(shlex.quote(c) for c in cmd)


# -- reachability ------------------------------------------------------------------------------------
def is_local_address(host: str) -> bool:
    """Whether ``host`` names this machine (it resolves to an address a socket can bind here)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    for family, _, _, _, addr in infos:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr[0], 0))
                return True
            except OSError:
                continue
    return False


def wait_for_master(host: str, port: int, timeout: float) -> None:
    """Wait until ``host:port`` accepts a TCP connection; :class:`LaunchError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, max(0.1, deadline - time.monotonic()))):
                return
        except socket.gaierror:
            raise LaunchError(f"--master-addr {host}: the name does not resolve",
                              hint="give the master node's address or host name") from None
        except OSError as exc:
            last = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
            if exc.errno not in (errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, None, 0) and \
                    not isinstance(exc, TimeoutError):
                last = str(exc)
        if time.monotonic() >= deadline:
            raise LaunchError(f"--master-addr {host}:{port}: unreachable after {timeout:g} s ({last})",
                              hint="start node 0 first, check the address, port and firewall, or raise "
                                   "--connect-timeout")
        time.sleep(0.2)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- running -----------------------------------------------------------------------------------------
def wait_all(procs: list[subprocess.Popen]) -> tuple[int, int, str] | None:
    """Wait for every process; at the first failure stop the others and return (index, exit code, the
    failed process's last ``error:`` line when its stderr was captured), None when all succeeded."""
    while True:
        running = False
        for index, p in enumerate(procs):
            code = p.poll()
            if code is None:
                running = True
            elif code != 0:
                tail = ""
                if p.stderr is not None:
                    for q in procs:
                        if q is not p and q.poll() is None:
                            stop_process(q)
                    text = p.stderr.read() or ""
                    lines = [line for line in text.strip().splitlines() if line.startswith("error:")]
                    tail = lines[-1][len("error:"):].strip() if lines else ""
                return index, code, tail
        if not running:
            return None
        time.sleep(0.2)


def announce(cmd: list[str]) -> None:
    """Print the command a launch runs (the same one the launch files hold)."""
    from onnxbridge.cli.common import err_console, shown

    err_console.print(f"launch: {shown(shell_line(cmd))}", highlight=False, soft_wrap=True)


def run_process(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` in its own session and return its exit code (stopped with this process on Ctrl-C)."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop_process(proc)
        raise


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a launched process group (its own session), politely first."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def worker_env(nproc: int) -> dict[str, str]:
    """This process's environment for ``nproc`` workers on this machine: ``OMP_NUM_THREADS`` shares the
    cores out unless it is set already."""
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads_per_process(nproc)))}


def threads_per_process(nproc: int) -> int:
    """Intra-op threads for each of ``nproc`` processes sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, nproc))
