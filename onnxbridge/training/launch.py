"""Distributed launch on the frameworks' own engines: the torchrun command line, local TensorFlow workers
with ``TF_CONFIG``, and the reachability check of a master address.

The command lines built here are the ones that run locally *and* the ones written into launch files
(:mod:`.launch_files`), so a cluster runs exactly what was tried on one machine. Workers run the same
``onnxbridge train`` command without the launch options; they find their rank in the environment
torchrun (or ``TF_CONFIG``) gives them.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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


def rdzv_id(run_dir: str) -> str:
    """A rendezvous id every node derives alike from the run directory's name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", Path(run_dir).name or "run")[:60] or "run"


def torchrun_command(network: str, run_dir: str, options: TrainOptions, *, node_rank: int | None = None,
                     master_addr: str | None = None, resume: bool = False,
                     python: str | None = None) -> list[str]:
    """The ``torchrun`` command line of one node (c10d rendezvous at ``master_addr:master_port``).

    ``python`` runs torchrun as ``python -m torch.distributed.run`` (what a local launch uses, so the
    workers start in this interpreter); without it the command starts with ``torchrun``.
    """
    launcher = [python, "-m", "torch.distributed.run"] if python else ["torchrun"]
    addr = master_addr if master_addr is not None else options.master_addr
    rank = options.node_rank if node_rank is None else node_rank
    cmd = [*launcher, "--nnodes", str(options.nnodes), "--nproc-per-node", str(options.nproc),
           "--node-rank", str(rank), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{addr}:{options.master_port}",
           "--rdzv-id", rdzv_id(run_dir), "--rdzv-conf", f"join_timeout={int(options.connect_timeout)}",
           "--max-restarts", "0"]
    inner = worker_command(network, run_dir, options, resume=resume, program=["-m", "onnxbridge"])
    return cmd + inner


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


def check_master(options: TrainOptions) -> None:
    """Before torchrun starts: node 0 must be the master's machine; other nodes must reach it in time."""
    if options.nnodes == 1 and options.node_rank == 0:
        if not is_local_address(options.master_addr):
            raise LaunchError(f"--master-addr {options.master_addr}: a single-node run hosts the rendezvous "
                              "itself, and this is not an address of this machine", hint="leave --master-addr out")
        return
    if options.node_rank == 0:
        if not is_local_address(options.master_addr):
            raise LaunchError(f"--master-addr {options.master_addr}: node 0 hosts the rendezvous, but this is "
                              "not an address of this machine", hint="run node 0 on the master, or fix the address")
        return
    wait_for_master(options.master_addr, options.master_port, options.connect_timeout)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- running -----------------------------------------------------------------------------------------
def run_torchrun(network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> None:
    """Run this node's torchrun (all its processes) and wait; :class:`LaunchError` when a process fails."""
    check_master(options)
    cmd = torchrun_command(network, run_dir, options, resume=resume, python=sys.executable)
    _announce(cmd)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(_threads(options.nproc)))}
    code = _run(cmd, env)
    if code != 0:
        raise LaunchError(f"torchrun: a training process failed (exit code {code})",
                          hint="its error is printed above")


def run_tf_workers(network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> None:
    """Start ``options.nproc`` TensorFlow workers on localhost ports (MultiWorkerMirroredStrategy) and wait.

    Worker 0 (the chief) prints to this console; when any worker fails, the others are stopped.
    """
    ports: list[int] = []
    while len(ports) < options.nproc:
        port = free_port()
        if port not in ports:
            ports.append(port)
    workers = [f"127.0.0.1:{p}" for p in ports]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(_threads(options.nproc)))}
    env.pop("TF_CONFIG", None)
    procs: list[subprocess.Popen] = []
    try:
        for index in range(options.nproc):
            worker = TrainOptions.from_dict({**options.to_dict(), "nproc": 1, "workers": workers,
                                             "worker_index": index})
            cmd = [sys.executable, "-m", "onnxbridge", "train", network, *worker.cli_args(distributed=True),
                   "-o", run_dir] + (["--resume", run_dir] if resume else [])
            quiet = index > 0
            _announce(cmd)
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL if quiet else None,
                                          stderr=subprocess.PIPE if quiet else None, text=True,
                                          start_new_session=True))
        failed = _wait_all(procs)
        if failed is not None:
            index, code, tail = failed
            raise LaunchError(f"TensorFlow worker {index} failed (exit code {code})"
                              + (f": {tail}" if tail else ""), hint="its error is printed above" if index == 0 else None)
    finally:
        for p in procs:
            if p.poll() is None:
                _stop(p)


def _wait_all(procs: list[subprocess.Popen]) -> tuple[int, int, str] | None:
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
                            _stop(q)
                    text = p.stderr.read() or ""
                    lines = [line for line in text.strip().splitlines() if line.startswith("error:")]
                    tail = lines[-1][len("error:"):].strip() if lines else ""
                return index, code, tail
        if not running:
            return None
        time.sleep(0.2)


def _announce(cmd: list[str]) -> None:
    """Print the command a launch runs (the same one the launch files hold)."""
    from onnxbridge.cli.common import err_console, shown

    err_console.print(f"launch: {shown(shell_line(cmd))}", highlight=False, soft_wrap=True)


def _run(cmd: list[str], env: dict[str, str]) -> int:
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> None:
    """Stop a launched process group (its own session), politely first."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _threads(nproc: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, nproc))
