"""Reading onnxruntime's profile trace: per-node placement and mean kernel time, warm-up runs dropped."""

from __future__ import annotations

from onnxbridge.runtime.profile import parse_profile

CPU = "CPUExecutionProvider"


def test_parse_profile_averages_runs_after_the_warmup():
    def event(name, dur, provider=CPU, op="Conv"):
        return {"cat": "Node", "name": f"{name}_kernel_time", "dur": dur,
                "args": {"op_name": op, "provider": provider}}

    events = [{"cat": "Session", "name": "model_run", "dur": 50},
              event("a", 100), event("b", 7, "X", "Relu"), {"cat": "Node", "name": "a_fence_before", "dur": 1},
              event("a", 10), event("b", 3, "X", "Relu"), event("a", 20), event("b", 5, "X", "Relu")]
    nodes = {n.name: n for n in parse_profile(events, skip_runs=1)}
    assert set(nodes) == {"a", "b"}
    assert nodes["a"].mean_us == 15.0 and nodes["b"].mean_us == 4.0
    assert nodes["b"].provider == "X" and nodes["b"].op_type == "Relu"
