"""merge_block_classes: a block's classes at several widths become one class with size parameters."""

from __future__ import annotations

from onnxbridge.codegen.class_merge import merge_block_classes, with_arguments

NARROW = '''class Stage(nn.Module):
    """A stage."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3, stride=1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))
'''


def widen(text: str, name: str, **sizes: int) -> str:
    text = text.replace("class Stage(", f"class {name}(")
    text = text.replace("nn.Conv2d(8, 16, 3, stride=1)",
                        f"nn.Conv2d({sizes['inp']}, {sizes['mid']}, 3, stride={sizes['stride']})")
    return text.replace("BatchNorm2d(16)", f"BatchNorm2d({sizes['mid']})").replace(
        "nn.Linear(16, 4)", f"nn.Linear({sizes['mid']}, 4)")


def test_sizes_become_named_parameters():
    merged = merge_block_classes("Stage", {"Stage": NARROW,
                                           "Stage2": widen(NARROW, "Stage2", inp=16, mid=32, stride=2)})
    assert merged is not None
    assert "def __init__(self, in_channels, channels, stride):" in merged.source
    assert "nn.Conv2d(in_channels, channels, 3, stride=stride)" in merged.source
    assert "nn.BatchNorm2d(channels)" in merged.source and "nn.Linear(channels, 4)" in merged.source
    assert merged.arguments == {"Stage": "in_channels=8, channels=16, stride=1",
                                "Stage2": "in_channels=16, channels=32, stride=2"}
    calls = "class Stage(nn.Module):\n    self.a = Stage()\n    self.b = Stage2(name='b')\n"
    assert with_arguments(calls, merged) == ("class Stage(nn.Module):\n"
                                             "    self.a = Stage(in_channels=8, channels=16, stride=1)\n"
                                             "    self.b = Stage(in_channels=16, channels=32, stride=2, name='b')\n")
    compile(merged.source, "<merged>", "exec")


def test_classes_that_differ_in_forward_stay_apart():
    other = widen(NARROW, "Stage2", inp=16, mid=32, stride=2).replace(".mean((2, 3))", ".amax((2, 3))")
    assert merge_block_classes("Stage", {"Stage": NARROW, "Stage2": other}) is None
    sized = widen(NARROW, "Stage2", inp=8, mid=16, stride=1).replace("mean((2, 3))", "mean((2, 4))")
    assert merge_block_classes("Stage", {"Stage": NARROW, "Stage2": sized}) is None  # a number in forward


def test_identical_classes_become_one():
    merged = merge_block_classes("Stage", {"Stage": NARROW, "Stage2": NARROW.replace("class Stage(", "class Stage2(")})
    assert merged is not None and merged.source == NARROW
    assert merged.arguments == {"Stage": "", "Stage2": ""}
