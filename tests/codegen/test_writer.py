"""The safe source writer: only validated identifiers and repr-quoted literals reach generated code."""

from __future__ import annotations

import ast
import keyword

import numpy as np
import pytest

from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, dotted, fmt, ident, join, lit

HOSTILE = [
    "x'\"\n", "__import__('os').system('echo owned')", "class", "lambda", "None", "_modules", "__class__",
    "__builtins__", "ünïcødé名", "a b", "1st", "", "x-y", "a.b", "\\", "\x00", "\u2028", "'''", '"""', "#",
    "self", "__", "_", "forward", "__init__", "🙂",
]


@pytest.mark.parametrize("name", ["x", "conv1", "Layer_2", "ünï", "_private", "x_"])
def test_ident_accepts_identifiers(name):
    assert ident(name) == name
    assert isinstance(ident(name), Code)


@pytest.mark.parametrize("name", ["a b", "1st", "", "x-y", "a.b", "x'", "x\n", "f()", "\\", "🙂"])
def test_ident_refuses_non_identifiers(name):
    with pytest.raises(ValueError, match="not a valid Python identifier"):
        ident(name)


@pytest.mark.parametrize("name", sorted(keyword.kwlist))
def test_ident_refuses_keywords(name):
    with pytest.raises(ValueError):
        ident(name)


@pytest.mark.parametrize("name", ["__class__", "__import__", "__builtins__", "__dict__", "__x", "__"])
def test_ident_refuses_dunder_and_mangled_names(name):
    with pytest.raises(ValueError, match="'__'"):
        ident(name)


def test_ident_refuses_what_is_not_a_string():
    with pytest.raises(ValueError):
        ident(3)  # type: ignore[arg-type]


def test_dotted_checks_every_part():
    assert dotted("torch", "nn", "functional") == "torch.nn.functional"
    for bad in [("x", "__class__"), ("os", "system('x')"), ("a", "")]:
        with pytest.raises(ValueError):
            dotted(*bad)


@pytest.mark.parametrize("text", HOSTILE)
def test_string_literals_are_repr_quoted(text):
    code = lit(text)
    assert ast.literal_eval(code) == text
    tree = ast.parse(code, mode="eval")
    assert isinstance(tree.body, ast.Constant)  # one constant: nothing to call, nothing to import


def test_literals_of_numbers_and_containers():
    assert lit(1) == "1" and lit(True) == "True" and lit(None) == "None"
    assert lit(1.5) == "1.5"
    assert lit(float("nan")) == "float('nan')"
    assert lit(float("inf")) == "float('inf')" and lit(-float("inf")) == "-float('inf')"
    assert lit((3,)) == "(3,)" and lit((1, 2)) == "(1, 2)"
    assert ast.literal_eval(lit({"a'": [1, (2.5, "b\n")], "k": None})) == {"a'": [1, (2.5, "b\n")], "k": None}
    assert lit(np.int64(7)) == "7" and lit(np.float32(0.5)) == "0.5"


def test_literals_refuse_other_objects():
    with pytest.raises(TypeError):
        lit(object())
    with pytest.raises(TypeError):
        lit({1, 2})


def test_code_holes_only_take_code():
    x = ident("x")
    assert call(dotted("torch", "relu"), x, inplace=lit(False)) == "torch.relu(x, inplace=False)"
    assert fmt("{}.shape[{}]", x, lit(0)) == "x.shape[0]"
    assert join([x, lit(1)]) == "x, 1"
    for build in (lambda: call(dotted("f"), "os.system('x')"), lambda: fmt("{}", "x; import os"),  # type: ignore[arg-type]
                  lambda: join(["x", x])):  # type: ignore[list-item]
        with pytest.raises(TypeError, match="must be Code"):
            build()
    with pytest.raises(ValueError, match="not a valid Python identifier"):
        call(dotted("f"), **{"class": x})
    with pytest.raises(ValueError):
        join([x], sep="; ")


@pytest.mark.parametrize("text", HOSTILE)
def test_name_scope_turns_anything_into_a_safe_identifier(text):
    for style in ("snake", "camel"):
        name = NameScope().name(text, style=style)
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert not name.startswith("_"), name  # no private, dunder or mangled names


def test_name_scope_is_unique_stable_and_keeps_reserved_names():
    scope = NameScope(reserved={"forward", "modules"})
    a, b = scope.name("k1", "conv"), scope.name("k2", "conv")
    assert (a, b) == ("conv", "conv_2")
    assert scope.name("k1", "other") == "conv"  # the same key keeps its name
    assert scope.name("k3", "forward") == "forward_2"
    assert scope.name("k4", "_modules") == "modules_2"  # the leading underscore goes, then the clash is avoided
    assert scope.name("k5", "__class__") == "class__"


def test_comments_stay_one_printable_line():
    w = SourceWriter()
    w.comment("evil\nimport os\r\x00# more")
    w.line("x = {}", lit(1))
    source = w.render()
    assert source.count("\n") == 2 and "\x00" not in source
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)  # noqa: S102 - our own writer's output
    assert namespace["x"] == 1 and "os" not in namespace


@pytest.mark.parametrize("text", ['plain words', 'has """ quotes', "ends with a quote\"", "back\\slash",
                                  "nul \x00 byte", "many\nlines\nhere " * 20, "ünï 名"])
def test_docstrings_cannot_break_out(text):
    w = SourceWriter()
    with w.block("def {}()", ident("f")):
        w.docstring(text)
        w.line("return {}", lit(1))
    namespace: dict = {}
    exec(compile(w.render(), "<test>", "exec"), namespace)  # noqa: S102 - our own writer's output
    assert namespace["f"]() == 1
    assert " ".join(namespace["f"].__doc__.split()) == " ".join(text.split())
