"""The shape rules the architecture issue set, checked on every library module.

- No function or method is longer than :data:`MAX_FUNCTION_LINES` lines (``def`` line to last
  line, docstring included): a function should read at once.
- No library code raises a built-in exception on purpose: every deliberate error derives from
  ``kernel.errors.FedmarketError`` through one family, so the CLI and the API map it.

Tests and benchmarks are outside these rules.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ("kernel", "storage", "chain", "incentives", "fl_node", "marketplace_api", "fedmarket")
MAX_FUNCTION_LINES = 60
ALLOWED_BUILTIN_RAISES = {"NotImplementedError"}
"""Abstract methods may say they are abstract."""
PROTOCOL_RAISES = {"__getattr__": "AttributeError", "__next__": "StopIteration"}
"""What Python's own protocols require these special methods to raise."""

BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def library_modules() -> Iterator[Path]:
    for package in LIBRARY:
        yield from sorted((ROOT / package).rglob("*.py"))


def parsed() -> Iterator[tuple[Path, ast.Module]]:
    for path in library_modules():
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_library_is_where_the_rules_look() -> None:
    found = {p.relative_to(ROOT).parts[0] for p in library_modules()}
    assert found == set(LIBRARY)


def test_no_function_is_longer_than_the_limit() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"
        for path, tree in parsed()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    ]
    assert not long, "functions over the limit:\n" + "\n".join(long)


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return exc.id if isinstance(exc, ast.Name) else None


def _builtin_raises(tree: ast.Module) -> Iterator[tuple[int, str]]:
    exempt: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name in PROTOCOL_RAISES:
            exempt |= {
                id(n)
                for n in ast.walk(fn)
                if isinstance(n, ast.Raise) and _raised_name(n) == PROTOCOL_RAISES[fn.name]
            }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or id(node) in exempt:
            continue
        name = _raised_name(node)
        if name in BUILTIN_EXCEPTIONS and name not in ALLOWED_BUILTIN_RAISES:
            yield node.lineno, name


def test_library_code_raises_no_builtin_exception() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} raise {name}"
        for path, tree in parsed()
        for line, name in _builtin_raises(tree)
    ]
    assert not offenders, "raise a project error instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    raise ValueError('x')\n", "ValueError"),
        ("def f():\n    raise RuntimeError\n", "RuntimeError"),
        ("def f():\n    raise errors.SpecError('x')\n", None),
    ],
)
def test_the_raise_scan_sees_builtin_raises(source: str, expected: str | None) -> None:
    raises = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Raise)]
    assert [_raised_name(n) for n in raises] == [expected]
    assert (expected in BUILTIN_EXCEPTIONS) is (expected is not None)


def test_protocol_raises_are_exempt_only_where_the_protocol_wants_them() -> None:
    source = (
        "def __getattr__(name):\n    raise AttributeError(name)\n"
        "def other(name):\n    raise AttributeError(name)\n"
    )
    assert [name for _, name in _builtin_raises(ast.parse(source))] == ["AttributeError"]
