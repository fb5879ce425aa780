"""One exception root: every vertical error has one kernel family, and the code says so.

Also checks two code-shape rules of the vertical packages: no library code raises a built-in
exception, and no function is longer than 60 lines.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from multiprocessing import Pipe
from pathlib import Path

import pytest

import fl_node.vertical
from fedmarket.cli.errors import EXIT_CODES, exit_code
from kernel.errors import FedmarketError, ProtocolError, families_of

ROOT = Path(__file__).resolve().parents[4]
LIBRARY = [ROOT / "fl_node" / "vertical", ROOT / "fedmarket" / "cli" / "vfl.py"]
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
ROOTS = {
    "PaillierError",
    "PsiError",
    "TransportError",
    "HeteroLRError",
    "SecureBoostError",
    "VflRunError",
}


def library_files() -> list[Path]:
    files: list[Path] = []
    for path in LIBRARY:
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def vertical_errors() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(fl_node.vertical.__path__, "fl_node.vertical."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("fl_node.vertical"):
                found.add(value)
    return found


def test_every_vertical_error_has_exactly_one_family() -> None:
    errors = vertical_errors()
    assert {e.__name__ for e in errors} >= ROOTS | {"PeerMessageError", "PsiProtocolError"}
    for error in errors:
        assert issubclass(error, FedmarketError), error
        families = families_of(error)
        if error.__name__ in ROOTS:
            assert families == (), error
        else:
            assert len(families) == 1, (error, families)


def test_package_roots_are_never_raised() -> None:
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
                assert name not in ROOTS, f"{path}:{node.lineno} raises the root {name}"


def test_library_code_raises_no_builtin_exception() -> None:
    for path in library_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            name = getattr(node.exc.func, "id", "")
            if name == "NotImplementedError":
                continue
            assert name not in BUILTIN_EXCEPTIONS, f"{path}:{node.lineno} raises {name}"


def test_no_function_is_longer_than_60_lines() -> None:
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 60, f"{path}:{node.lineno} {node.name} has {length} lines"


def test_no_two_classes_share_a_name() -> None:
    names: dict[str, Path] = {}
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                assert node.name not in names, f"{node.name} in {names.get(node.name)} and {path}"
                names[node.name] = path


@pytest.mark.parametrize(
    ("make", "code"),
    [
        ("fl_node.vertical.protocol:PeerMessageError", 7),
        ("fl_node.vertical.transport:ChannelTimeoutError", 8),
        ("fl_node.vertical.transport:ChannelClosedError", 3),
        ("fl_node.vertical.transport:PeerAuthenticationError", 5),
        ("fl_node.vertical.crypto.paillier:PaillierOverflowError", 2),
        ("fl_node.vertical.crypto.psi:PsiCryptoError", 6),
        ("fl_node.vertical.runner:PartyCrashedError", 3),
        ("fl_node.vertical.data:VflDataError", 2),
    ],
)
def test_cli_exit_codes_follow_the_family(make: str, code: int) -> None:
    module, name = make.split(":")
    error = getattr(importlib.import_module(module), name)("boom")
    assert exit_code(error) == code
    assert code in EXIT_CODES.values()


def test_an_error_raised_in_a_party_travels_back_whole() -> None:
    from fl_node.vertical.protocol import PeerMessageError
    from fl_node.vertical.runner import PartyCrashedError
    from fl_node.vertical.runner._process import _raise_failure, _report

    parent, child = Pipe()
    try:
        raise PeerMessageError("host: unexpected masked values")
    except PeerMessageError as exc:
        _report(child, "host", exc)
    kind, failure = parent.recv()
    assert kind == "error"
    with pytest.raises(PeerMessageError, match="unexpected masked") as caught:
        _raise_failure(failure)
    assert isinstance(caught.value, ProtocolError)
    assert "raised in the host process" in "".join(caught.value.__notes__)
    try:
        raise KeyError("bug")
    except KeyError as exc:
        _report(child, "guest", exc)
    with pytest.raises(PartyCrashedError, match="guest: KeyError"):
        _raise_failure(parent.recv()[1])
