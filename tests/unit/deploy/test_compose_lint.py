"""deploy/compose.yaml is linted against the real project, and the lint cannot pass vacuously.

The YAML is read with Compose's own interpolation (``${VAR:-default}`` takes the default,
``${VAR:?error}`` and ``${VAR}`` a placeholder), then:

- every ``depends_on`` names a service, with a known condition; ``service_healthy`` only on a
  service that has a health check;
- every service has a health check that is not disabled;
- no two services publish the same host port;
- every named volume is declared at the top level and every declared one is used; every network
  is declared, one of them internal;
- every ``fedmarket ...`` command (commands and health checks) parses with the real CLI: Click's
  own parser on the Typer app, with type conversion, required options and the option callbacks;
- every ``FEDMARKET_*`` variable a service sets is one the code reads: a settings field of the
  marketplace API (``FEDMARKET_API_`` + field) or a name spelled out in the library's code.

Each check is also run on a broken copy and must fail there (the negative tests at the end).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

from fedmarket.cli.app import app
from marketplace_api.core.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "deploy" / "compose.yaml"
LIBRARY = ("kernel", "storage", "chain", "incentives", "fl_node", "marketplace_api", "fedmarket")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PLACEHOLDER = "placeholder"

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose's variable substitution with an empty environment."""
    if isinstance(value, str):
        substituted = _VARIABLE.sub(
            lambda m: m.group(3) if m.group(2) in ("-", ":-") else PLACEHOLDER, value
        )
        return substituted.replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def load() -> dict[str, Any]:
    return dict(interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load()


# --- the checks (each returns its findings; the tests assert there are none) ---------------


def depends_on_faults(doc: dict[str, Any]) -> list[str]:
    services = doc["services"]
    faults = []
    for name, service in services.items():
        deps = service.get("depends_on", {})
        if isinstance(deps, list):
            deps = {target: {"condition": "service_started"} for target in deps}
        for target, spec in deps.items():
            condition = spec.get("condition", "service_started")
            if target not in services:
                faults.append(f"{name} depends on unknown service {target}")
            elif condition not in CONDITIONS:
                faults.append(f"{name} -> {target}: unknown condition {condition}")
            elif condition == "service_healthy" and "healthcheck" not in services[target]:
                faults.append(f"{name} waits for {target} healthy, which has no health check")
    return faults


def healthcheck_faults(doc: dict[str, Any]) -> list[str]:
    faults = []
    for name, service in doc["services"].items():
        check = service.get("healthcheck")
        if not check or check.get("disable") or not check.get("test"):
            faults.append(f"{name} has no health check")
        elif check["test"][0] not in ("CMD", "CMD-SHELL"):
            faults.append(f"{name}: health check test must start with CMD or CMD-SHELL")
    return faults


def published_ports(service: dict[str, Any]) -> Iterator[str]:
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            yield f"{entry.get('host_ip', '')}:{entry['published']}"
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 1:
            continue  # container port only: the host picks one
        yield ":".join(parts[:-1]) if len(parts) == 3 else f":{parts[0]}"


def port_faults(doc: dict[str, Any]) -> list[str]:
    seen: dict[str, str] = {}
    faults = []
    for name, service in doc["services"].items():
        for port in published_ports(service):
            if port in seen:
                faults.append(f"{name} and {seen[port]} both publish {port}")
            seen[port] = name
    return faults


def named_volumes(service: dict[str, Any]) -> Iterator[str]:
    for entry in service.get("volumes", []):
        source = entry.get("source", "") if isinstance(entry, dict) else str(entry).split(":")[0]
        if isinstance(entry, dict) and entry.get("type", "volume") != "volume":
            continue
        if source and not source.startswith(("/", ".", "~")):
            yield source


def volume_faults(doc: dict[str, Any]) -> list[str]:
    declared = set(doc.get("volumes") or {})
    used = {v for s in doc["services"].values() for v in named_volumes(s)}
    faults = [f"volume {v} is used but not declared" for v in sorted(used - declared)]
    faults += [f"volume {v} is declared but never used" for v in sorted(declared - used)]
    return faults


def network_faults(doc: dict[str, Any]) -> list[str]:
    declared = doc.get("networks") or {}
    faults = []
    for name, service in doc["services"].items():
        networks = service.get("networks", ["default"])
        for network in networks if isinstance(networks, list) else list(networks):
            if network not in declared:
                faults.append(f"{name} joins undeclared network {network}")
    if not any((spec or {}).get("internal") for spec in declared.values()):
        faults.append("no internal network")
    return faults


def fedmarket_commands(doc: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for name, service in doc["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command and command[0] == "fedmarket":
            yield f"{name} command", [str(a) for a in command]
        test = (service.get("healthcheck") or {}).get("test", [])
        if len(test) > 1 and test[0] == "CMD" and test[1] == "fedmarket":
            yield f"{name} health check", [str(a) for a in test[1:]]


def parse_cli(argv: list[str]) -> click.Context:
    """Parse ``fedmarket ARGS`` with the real CLI, without running it."""
    command: click.Command = typer.main.get_command(app)
    context = click.Context(command, info_name="fedmarket")
    args = list(argv[1:])
    while isinstance(command, click.Group):
        if not args or args[0].startswith("-"):
            raise click.UsageError(f"no command after {context.command_path}")
        found = command.get_command(context, args[0])
        if found is None:
            raise click.UsageError(f"no such command: {args[0]}")
        command, name, args = found, args[0], args[1:]
        context = click.Context(command, info_name=name, parent=context)
    return command.make_context(context.info_name, args, parent=context.parent)


def command_faults(doc: dict[str, Any]) -> list[str]:
    faults = []
    for where, argv in fedmarket_commands(doc):
        try:
            parse_cli(argv)
        except Exception as exc:  # any refusal by the CLI is a finding
            faults.append(f"{where}: {' '.join(argv)}: {type(exc).__name__}: {exc}")
    return faults


def variables_the_code_reads() -> set[str]:
    names = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    for package in LIBRARY:
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"\bFEDMARKET_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    return names


def environment_names(service: dict[str, Any]) -> Iterator[str]:
    env = service.get("environment", {})
    yield from (env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))


def variable_faults(doc: dict[str, Any], known: set[str]) -> list[str]:
    return [
        f"{name} sets {variable}, which no code reads"
        for name, service in doc["services"].items()
        for variable in environment_names(service)
        if variable.startswith("FEDMARKET_") and variable not in known
    ]


# --- the file passes ------------------------------------------------------------------------


def test_the_consortium_services_and_the_role_profiles_are_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"chain", "ipfs", "postgres", "api", "coordinator", "participant"} <= set(services)
    assert services["coordinator"]["profiles"] == ["coordinator"]
    assert services["participant"]["profiles"] == ["participant"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["api"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / "deploy" / "Dockerfile").is_file()


def test_depends_on_names_services_with_health_checks(compose: dict[str, Any]) -> None:
    assert sum(len(s.get("depends_on", {})) for s in compose["services"].values()) >= 5
    assert depends_on_faults(compose) == []


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    assert healthcheck_faults(compose) == []


def test_published_ports_do_not_collide(compose: dict[str, Any]) -> None:
    assert sum(1 for s in compose["services"].values() for _ in published_ports(s)) >= 1
    assert port_faults(compose) == []


def test_volumes_and_networks_are_declared(compose: dict[str, Any]) -> None:
    assert len(compose["volumes"]) >= 3
    assert volume_faults(compose) == []
    assert network_faults(compose) == []


def test_every_fedmarket_command_parses_with_the_real_cli(compose: dict[str, Any]) -> None:
    commands = list(fedmarket_commands(compose))
    assert len(commands) >= 7, commands  # chain, ipfs, api, both roles and their checks
    assert command_faults(compose) == []


def test_every_fedmarket_variable_is_read_by_the_code(compose: dict[str, Any]) -> None:
    names = [v for s in compose["services"].values() for v in environment_names(s)]
    assert sum(1 for v in names if v.startswith("FEDMARKET_")) >= 4
    assert variable_faults(compose, variables_the_code_reads()) == []


# --- each check fails on a broken copy --------------------------------------------------------


def broken(compose: dict[str, Any], service: str, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(compose)
    doc["services"][service].update(changes)
    return doc


def test_the_checks_find_what_is_wrong(compose: dict[str, Any]) -> None:
    assert depends_on_faults(broken(compose, "api", depends_on={"ledger": {}}))
    no_check = copy.deepcopy(compose)
    del no_check["services"]["postgres"]["healthcheck"]
    assert healthcheck_faults(no_check) and depends_on_faults(no_check)
    assert healthcheck_faults(broken(compose, "ipfs", healthcheck={"disable": True}))
    assert port_faults(broken(compose, "chain", ports=["8000:8545"]))
    assert port_faults(broken(compose, "chain", ports=["127.0.0.1:8000:8545"])) == []
    assert volume_faults(broken(compose, "ipfs", volumes=["blocks:/data"]))
    assert network_faults(broken(compose, "ipfs", networks=["public"]))


@pytest.mark.parametrize(
    "argv",
    [
        ["fedmarket", "up", "--only", "chain", "--no-such-option"],
        ["fedmarket", "up", "--chain-port", "not-a-port"],
        ["fedmarket", "up", "--chain-port", "70000"],  # the option's own callback refuses it
        ["fedmarket", "coordinator", "--rpc", "http://chain:8545"],  # required options missing
        ["fedmarket", "status", "task", "--rpc", "http://chain:8545"],  # no task id
        ["fedmarket", "cordinator", "--rpc", "http://chain:8545"],
    ],
)
def test_the_parser_refuses_broken_commands(compose: dict[str, Any], argv: list[str]) -> None:
    doc = broken(compose, "chain", command=argv)
    assert [f for f in command_faults(doc) if f.startswith("chain command")]


def test_an_unknown_fedmarket_variable_is_found(compose: dict[str, Any]) -> None:
    doc = broken(compose, "api", environment={"FEDMARKET_API_DATABASE": "sqlite://"})
    assert variable_faults(doc, variables_the_code_reads()) == [
        "api sets FEDMARKET_API_DATABASE, which no code reads"
    ]
