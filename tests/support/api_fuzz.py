"""schemathesis over the whole marketplace API, served for real on PostgreSQL.

:func:`fuzz_api` starts a PostgreSQL server, an in-process chain with the v2 contracts, the API
in a uvicorn thread with its background indexer, seeds it (a listing, a driven task with its
model listed, a signed-in account whose bearer token the run sends), then runs the schemathesis
CLI (``--checks all``) against it in a subprocess and reads the counts back from its JSON
report. The configuration (what each check may expect from operations whose validity the schema
cannot say, such as an owner's signature) is ``tests/support/schemathesis.toml``.

Run it longer than the test suite does::

    scripts/schemathesis-api --max-examples 200
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain import InProcessBackend
from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    dataset_metadata,
    drive_task,
    list_on_market,
    make_world,
)
from tests.support.postgres import running_postgres

log = logging.getLogger(__name__)

CONFIG = Path(__file__).with_name("schemathesis.toml")
"""The run's schemathesis configuration."""
HOOKS = "tests.support.schemathesis_hooks"
"""The run's hooks (addresses get their EIP-55 checksum)."""
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FuzzResult:
    """What one schemathesis run found.

    Attributes
    ----------
    returncode : int
        The CLI's exit code (0 when nothing failed).
    operations : int
        Operations tested.
    test_cases : int
        Test cases generated and sent, over all phases.
    unique_failures : int
        Distinct failures found.
    failures : list of str
        One line per kind of failure: its code, title, count and operations.
    errors : list of str
        Errors of the run itself (schema, network).
    output : str
        The CLI's output, for the report.
    """

    returncode: int
    operations: int = 0
    test_cases: int = 0
    unique_failures: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""


@dataclass(frozen=True)
class Served:
    """The API under test: its URL and two sessions (one is for ``DELETE /auth/session``)."""

    url: str
    token: str
    sign_out_token: str


@contextmanager
def served_api(postgres_url: str, workdir: Path) -> Iterator[Served]:
    """The API on ``postgres_url`` over a fresh chain, seeded, with two signed-in sessions."""
    world = make_world(InProcessBackend(), workdir / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=postgres_url,
        index_interval=0.5,
    )
    server = serve_in_thread(create_app(services=services))
    try:
        with MarketplaceClient(server.url, timeout=30) as api:
            owner = world.funded()
            api.list_dataset(owner, dataset_metadata(owner.address, tags=["medical"]))
            task = drive_task(world, scores=[[1, 3]], n_participants=2)
            list_on_market(world, task, price=10 * TOKEN)
            assert task.card_cid is not None
            api.sign_in(task.sponsor)
            api.list_model(
                task.sponsor,
                task_id=task.task_id,
                name="model",
                description="two clinics",
                price_wei=10 * TOKEN,
                card_cid=task.card_cid,
            )
            token = api.token
            api.sign_in(world.funded())
            sign_out_token = api.token
        assert token is not None and sign_out_token is not None
        yield Served(server.url, token, sign_out_token)
    finally:
        server.stop()
        services.close()


def run_config(served: Served, path: Path) -> Path:
    """Write the run's configuration: :data:`CONFIG` and the sessions to send.

    Every request carries the first session; ``DELETE /auth/session`` carries the second, so
    that signing out does not end the session the other operations are tested with.
    """
    path.write_text(
        f'headers = {{ Authorization = "Bearer {served.token}" }}\n\n'
        + CONFIG.read_text()
        + "\n[[operations]]\n"
        + 'include-path = "/auth/session"\ninclude-method = "DELETE"\n'
        + f'headers = {{ Authorization = "Bearer {served.sign_out_token}" }}\n'
    )
    return path


def schemathesis_command(
    url: str, config: Path, report: Path, *, max_examples: int, seed: int | None
) -> list[str]:
    """The CLI invocation: every check, every phase."""
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    command = [
        exe,
        "--config-file",
        str(config),
        "run",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    return command


def read_report(path: Path, result: FuzzResult) -> FuzzResult:
    """Fill ``result``'s counts from schemathesis's JSON report (``--report json``)."""
    data: dict[str, Any] = json.loads(path.read_text())
    result.operations = int(data["operations"]["tested"])
    result.test_cases = int(data["test_cases"]["generated"])
    result.unique_failures = int(data["test_cases"]["unique_failures"])
    result.failures = [
        f"{f['code']} {f['title']} ({f['count']}): {', '.join(f['operations'])}"
        for f in data["failures"]
    ]
    result.errors = [f"{e['title']} ({e['count']})" for e in data["errors"]]
    return result


def fuzz_api(max_examples: int = 10, seed: int | None = None) -> FuzzResult:
    """Serve the API on PostgreSQL and run schemathesis over it.

    Parameters
    ----------
    max_examples : int, default 10
        Test cases per operation and phase (``--max-examples``).
    seed : int or None, default None
        schemathesis's seed (random when ``None``; the output prints it).
    """
    workdir = Path(tempfile.mkdtemp(prefix="fedmarket-fuzz-"))
    try:
        with running_postgres() as pg_url, served_api(pg_url, workdir) as served:
            report = workdir / "report.json"
            config = run_config(served, workdir / "schemathesis.toml")
            command = schemathesis_command(
                f"{served.url}/openapi.json",
                config,
                report,
                max_examples=max_examples,
                seed=seed,
            )
            env = {
                **os.environ,
                "SCHEMATHESIS_HOOKS": HOOKS,
                "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            }
            ran = subprocess.run(
                command, capture_output=True, text=True, env=env, cwd=workdir, check=False
            )
            result = FuzzResult(returncode=ran.returncode, output=ran.stdout + ran.stderr)
            if report.exists():
                read_report(report, result)
            return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.support.api_fuzz [--max-examples N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = fuzz_api(args.max_examples, args.seed)
    sys.stdout.write(result.output)
    sys.stdout.write(
        f"\nschemathesis: {result.operations} operations, {result.test_cases} test cases, "
        f"{result.unique_failures} unique failures, {len(result.errors)} errors\n"
    )
    for line in result.failures + result.errors:
        sys.stdout.write(f"  {line}\n")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
