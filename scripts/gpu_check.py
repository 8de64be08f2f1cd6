#!/usr/bin/env python
"""Device checks for a machine with a CUDA GPU (the test suite covers the CPU paths; this covers CUDA).

1. `devices`: the GPUs seen by nvidia-smi / PyTorch, and onnxruntime's execution providers.
2. Per-layer devices: a spec with `device: cuda` (and `cuda:1` when there are two GPUs) placements
   mixed with CPU layers, converted to generated PyTorch code; the parameters must sit on their devices
   and the outputs (live, and loaded back from the written model.py) must match onnxruntime. Then the
   whole-model `device="cuda"` of converted code.
3. `bench --compare torch` on CUDA: PyTorch eager on the GPU beside onnxruntime, outputs compared.
   With onnxruntime-gpu (`pip install 'onnxbridge[gpu]'`) the `bench` command runs with `-p cuda
   --explain`; without it, PyTorch still runs on CUDA through the same runner and is compared with
   onnxruntime CPU.

Exit code 0 when every check passed, 1 when one failed, 2 when there is no CUDA GPU. A JSON summary goes
to $OUT/gpu_check.json when $OUT is set.

    PYTHONPATH=. python scripts/gpu_check.py [--dry-run-on-cpu]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS: list[dict] = []


def check(name: str):
    """Run one check, record ok/failed with its detail, never stop the script."""

    def wrap(fn):
        start = time.perf_counter()
        try:
            detail = fn()
            RESULTS.append({"check": name, "ok": True, "detail": detail, "seconds": time.perf_counter() - start})
            print(f"[ok]     {name}: {detail}")
        except Exception as exc:  # noqa: BLE001 - report and go on to the next check
            RESULTS.append({"check": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}",
                            "seconds": time.perf_counter() - start})
            print(f"[FAILED] {name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        return fn

    return wrap


def placed_spec(first: str, second: str) -> dict:
    return {
        "name": "gpu_pipeline",
        "inputs": [{"name": "image", "shape": ["batch", 3, 16, 16]}],
        "layers": [
            {"id": "conv1", "type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": "same",
             "device": first},
            {"id": "bn1", "type": "BatchNorm2d", "device": first},
            {"id": "relu1", "type": "ReLU", "device": first},
            {"id": "conv2", "type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": "same",
             "device": second},
            {"id": "pool", "type": "GlobalAvgPool"},
            {"id": "flatten", "type": "Flatten", "device": "cpu"},
            {"id": "fc", "type": "Linear", "out_features": 10, "device": second},
        ],
        "outputs": [{"name": "logits", "from": "fc"}],
    }


def main() -> int:
    import torch

    import onnxbridge
    from onnxbridge.conversion import convert
    from onnxbridge.runtime.devices import list_devices
    from onnxbridge.spec.io import spec_from_dict
    from onnxbridge.testing import check_parity

    # --dry-run-on-cpu: the same checks with "cpu" for every GPU, to try this script where there is none
    dry = "--dry-run-on-cpu" in sys.argv
    devices_report = list_devices()
    print(json.dumps(devices_report.to_dict(), indent=2))
    if not dry and not torch.cuda.is_available():
        print(f"no CUDA device visible to PyTorch {torch.__version__}: nothing to check here", file=sys.stderr)
        return 2
    gpu = "cpu" if dry else "cuda"
    second = "cuda:1" if not dry and torch.cuda.device_count() >= 2 else gpu
    model = onnxbridge.build(spec_from_dict(placed_spec(gpu, second)))
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))

    @check(f"generated PyTorch code with per-layer {gpu} placements")
    def _placements():
        module = convert(model, "torch", output=tmp / "pkg")  # verified live and from disk, or it raises
        where = {name: str(p.device) for name, p in module.named_parameters()}
        assert where["conv1.weight"].startswith(gpu), where
        assert where["conv2.weight"] == (second if ":" in second else f"{second}:0" if second != "cpu" else "cpu"), where
        parity = check_parity(model, module, batch=8)
        assert parity.ok, parity.summary()
        source = (tmp / "pkg" / "model.py").read_text(encoding="utf-8")
        assert f".to(self.devices['{gpu}'])" in source
        return f"{parity.summary()}; parameters on {sorted(set(where.values()))}"

    @check("generated code loaded back from disk, placed")
    def _from_disk():
        from onnxbridge.frameworks.torch.exporter import load_package

        parity = check_parity(model, load_package(tmp / "pkg"), batch=4)
        assert parity.ok, parity.summary()
        return parity.summary()

    @check(f"whole-model device={gpu!r} for converted code")
    def _whole():
        plain = onnxbridge.build(ROOT / "models" / "digits_cnn.yaml")
        module = convert(plain, "torch", device=gpu)
        assert all(p.device.type == gpu for p in module.parameters())
        parity = check_parity(plain, module, batch=16)
        assert parity.ok, parity.summary()
        return parity.summary()

    import onnxruntime as ort

    has_ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()

    @check(f"bench --compare torch on {gpu}")
    def _bench():
        spec = ROOT / "models" / "digits_cnn.yaml"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        placement = []
        if has_ort_cuda or dry:
            providers = ["-p", "cpu"] + ([] if dry else ["-p", "cuda"])
            cmd = [sys.executable, "-m", "onnxbridge", "bench", str(spec), *providers, "-b", "1,64", "-n", "50",
                   "--compare", "torch", "--explain"]
            subprocess.run(cmd, timeout=300, cwd=ROOT, env=env)  # the table, for the log
            out = subprocess.run([*cmd, "--format", "json"], capture_output=True, text=True, timeout=300, cwd=ROOT,
                                 env=env)
            assert out.returncode == 0, out.stderr[-2000:]
            data = json.loads(out.stdout)
            rows, placement = data["results"], data["placement"]
        else:
            # no onnxruntime-gpu here: PyTorch still runs on CUDA through the benchmark's own runner
            from onnxbridge.runtime.compare import run_native
            from onnxbridge.runtime.measure import Measure
            from onnxbridge.testing import compare_outputs, random_inputs, run_onnxruntime

            hub = onnxbridge.build(spec)
            feeds = {b: random_inputs(hub, batch=b) for b in (1, 64)}
            names = [o.name for o in hub.graph.output]
            measure = Measure(warmup=5, iterations=50, seconds=None, progress=None)
            rows = []
            for result, outputs in run_native("torch", hub, feeds, measure=measure, cuda=True):
                if outputs is not None:
                    result.parity = compare_outputs(run_onnxruntime(hub, feeds[result.batch]), outputs, names)
                rows.append(result.to_dict())
            print("note: onnxruntime has no CUDAExecutionProvider here (pip install 'onnxbridge[gpu]'); "
                  "PyTorch ran on CUDA through the benchmark runner, compared with onnxruntime CPU")
        assert any(r["engine"] == "torch" and r["device"] == gpu for r in rows), f"PyTorch did not run on {gpu}"
        for r in rows:
            assert r["error"] is None, r["error"]
            assert r["parity"] is None or r["parity"]["ok"], (r["engine"], r["device"], r["parity"])
        for p in placement:
            print(f"placement {p['provider']}: {p['nodes']} nodes, {p['fallback_nodes']} fell back "
                  f"({p['fallback_share']:.0%} of the kernel time)")
        return "; ".join(f"{r['engine']} {r['device']} b{r['batch']}: p50 {r['latency_ms']['p50_ms']:.3f} ms"
                         + (f" ({r['vs_baseline']:.2f}x)" if r["vs_baseline"] else "") for r in rows)

    failed = [r for r in RESULTS if not r["ok"]]
    where = "CPU (dry run)" if dry else torch.cuda.get_device_name(0)
    print(f"\n{len(RESULTS) - len(failed)} of {len(RESULTS)} device checks passed on {where} "
          f"(torch {torch.__version__}, onnxruntime {ort.__version__})")
    out_dir = os.environ.get("OUT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        summary = {"devices": devices_report.to_dict(), "checks": RESULTS, "dry_run": dry}
        (Path(out_dir) / "gpu_check.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
