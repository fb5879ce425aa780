"""Every project error has exactly one family, and every family one exit code (README's table).

The walk imports every module of every package first, so an error class defined anywhere in
the project is seen; roots (never raised themselves) are listed here by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

from fedmarket.cli.errors import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_VERDICT,
    exit_code,
)
from kernel.errors import FAMILIES, FedmarketError, families_of
from tests.unit.app.exit_table import readme_exit_codes

PACKAGES = ("kernel", "storage", "chain", "incentives", "fl_node", "marketplace_api", "fedmarket")
SKIPPED = ("__main__", "migrations")
"""Modules that run something on import (the CLI's entry point, Alembic's environment)."""

ROOTS = {
    "kernel.errors.FedmarketError",
    "storage.errors.StoreError",
    "chain.errors.ChainError",
    "fl_node.errors.FlError",
    "marketplace_api.errors.MarketplaceError",
    "marketplace_api.errors.MarketplaceApiError",
    "fl_node.vertical.transport._errors.TransportError",
    "fl_node.vertical.crypto.psi._common.PsiError",
    "fl_node.vertical.crypto.paillier._errors.PaillierError",
    "fl_node.vertical.protocol._errors.HeteroLRError",
    "fl_node.vertical.protocol.boost._errors.SecureBoostError",
    "fl_node.vertical.runner._errors.VflRunError",
    "fl_node.pool.errors.PoolError",
    "fl_node.secagg.errors.SecAggError",
    "fl_node.secagg_task.errors.SecAggTaskError",
    "fl_node.transfer.errors.TransferError",
    "fedmarket.consortium.errors.ConsortiumError",
}
"""The package roots: documented as never raised themselves, so they have no family."""


def import_everything() -> list[ModuleType]:
    modules = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if any(part in SKIPPED for part in info.name.split(".")):
                continue
            modules.append(importlib.import_module(info.name))
    return modules


def project_errors() -> list[type[FedmarketError]]:
    import_everything()
    seen: list[type[FedmarketError]] = []
    stack: list[type[FedmarketError]] = [FedmarketError]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return [c for c in seen if c.__module__.split(".")[0] in PACKAGES]


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.fixture(scope="module")
def errors() -> list[type[FedmarketError]]:
    return project_errors()


def test_the_walk_sees_every_package(errors):
    packages = {c.__module__.split(".")[0] for c in errors}
    assert {"kernel", "storage", "chain", "fl_node", "marketplace_api"} <= packages
    assert len(errors) > 20


def test_every_concrete_error_has_exactly_one_family(errors):
    offenders = [
        f"{qualified(c)}: {[f.__name__ for f in families_of(c)]}"
        for c in errors
        if qualified(c) not in ROOTS and len(families_of(c)) != 1
    ]
    assert not offenders, "errors without exactly one family:\n" + "\n".join(offenders)


def test_the_roots_are_roots(errors):
    names = {qualified(c): c for c in errors}
    for root in sorted(ROOTS):
        cls = names[root]
        assert cls.__name__.endswith("Error")
        assert families_of(cls) == ()
        doc = (cls.__doc__ or "").lower()
        assert "root" in doc or "never raised" in doc, root
        assert exit_code(cls.__new__(cls)) == EXIT_UNEXPECTED  # raised by mistake: a bug


def test_every_family_has_one_exit_code(errors):
    assert set(EXIT_CODES) == set(FAMILIES)
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    reserved = {EXIT_OK, EXIT_VERDICT, EXIT_UNEXPECTED, EXIT_INTERRUPTED}
    assert not reserved & set(EXIT_CODES.values())
    for cls in errors:
        for family in families_of(cls):
            assert family in EXIT_CODES, qualified(cls)


def test_the_readme_table_is_the_code():
    table = readme_exit_codes()
    assert table.by_family == {family.__name__: code for family, code in EXIT_CODES.items()}
    assert table.code_for("success") == EXIT_OK
    assert table.code_for("verdict") == EXIT_VERDICT
    assert table.code_for("unexpected") == EXIT_UNEXPECTED
    assert table.code_for("interrupted") == EXIT_INTERRUPTED


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_exit_code_of_each_family_and_its_subclasses(family, errors):
    code = EXIT_CODES[family]
    assert exit_code(family("x")) == code
    for cls in errors:
        if families_of(cls) == (family,):
            assert exit_code(cls.__new__(cls)) == code, qualified(cls)
