#!/usr/bin/env python
"""Benchmark: onnxruntime vs PyTorch eager vs TensorFlow (tf.function) on the zoo models, side by side.

Each model is built from its spec in models/, converted with onnxbridge's own bridges and run in the
same process on the same inputs (`onnxbridge.bench(..., compare=[...])`). Baseline, measured in the same
run: onnxruntime on the CPU. Every framework's outputs are compared with onnxruntime's; a mismatch or a
failed conversion is printed in the table, never hidden.

    python scripts/bench_compare.py [--batches 1,32] [--seconds 1] [--threads 1] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import machine  # noqa: E402

import onnxbridge  # noqa: E402

# (family, spec in models/, symbolic dims other than the batch)
ZOO = [("CNN", "digits_cnn", {}), ("CNN (residual blocks)", "resnet_mini", {}), ("MLP", "mlp", {}),
       ("LSTM", "lstm_text", {"seq": 32}), ("Transformer", "transformer_tiny", {})]


def cell(report, engine: str, batch: int) -> str:
    r = report.result(engine, "cpu", batch)
    if r is None:
        return "n/a"
    if r.error:
        return f"failed: {r.error[:90]}"
    text = f"{r.latency.p50_ms:.3g} ms"
    if engine != "onnxruntime":
        text += f" ({r.vs_baseline:.2f}×)"
        if r.parity is not None and not r.parity.ok:
            text += " WRONG"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads for every engine (1 keeps a shared machine's noise down)")
    parser.add_argument("--compare", default="torch,tensorflow")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    engines = ["onnxruntime", *[e.strip() for e in args.compare.split(",")]]
    rows = []
    for family, name, dims in ZOO:
        report = onnxbridge.bench(ROOT / "models" / f"{name}.yaml", batches=args.batches, seconds=args.seconds,
                                  threads=args.threads, warmup=10, compare=args.compare.split(","), inputs=dims)
        for batch, shapes in report.inputs.items():
            shape = ", ".join("×".join(map(str, s)) for s in shapes.values())
            rows.append((family, f"{report.model} ({shape})", batch, [cell(report, e, batch) for e in engines],
                         [r for r in report.results if r.batch == batch]))
        for note in report.notes:
            print(f"note ({report.model}): {note}", file=sys.stderr)
    names = {"onnxruntime": "onnxruntime CPU", "torch": "PyTorch eager", "torch.compile": "torch.compile",
             "tensorflow": "TensorFlow tf.function"}
    if args.markdown:
        print(f"Machine: {machine()}; {args.threads} intra-op thread(s) per engine, p50 over "
              f"{args.seconds:g} s per configuration after 10 warm-up runs.\n")
        print("| model | spec (input) | batch | " + " | ".join(names.get(e, e) for e in engines) + " | outputs vs onnxruntime |")
        print("|---|---|---:|" + "---:|" * len(engines) + "---|")
        for family, model, batch, cells, results in rows:
            checked = [r for r in results if r.parity is not None]
            worst = max((r.parity.max_abs for r in checked), default=0.0)
            ok = all(r.parity.ok for r in checked)
            verdict = (f"match (max abs {worst:.1e})" if ok else "MISMATCH") if checked else "-"
            print(f"| {family} | {model} | {batch} | " + " | ".join(cells) + f" | {verdict} |")
    else:
        print(machine())
        for family, model, batch, cells, _ in rows:
            print(f"{family:22s} {model:18s} batch {batch:3d}: " + "  ".join(
                f"{names.get(e, e)} {c}" for e, c in zip(engines, cells)))


if __name__ == "__main__":
    main()
