"""The bench's data: the default-credit rows dealt to N parties, and the task designed on them.

The registry's ``uci_default_credit_raw`` (the UCI "default of credit card clients" table as FATE
ships it: 30,000 rows, 23 numeric features in their raw units, a binary label) is split IID over
the parties by the command line, exactly as a sponsor and its parties would do it::

    fedmarket data schema UCI_Credit_Card.csv --label default.payment.next.month --drop ID ...
    fedmarket data split UCI_Credit_Card.csv --schema schema.json --parties N ...
    fedmarket task design --schema schema.json --stats-from party-01.csv ... --rounds R ...

Each party keeps 70 % / N of the rows (420 at 50 parties, 210 at 100); the coordinator's
validation set is 10 % (3,000 rows) and the test set 20 %. The task is the default design (its
input scaling from the parties' pooled statistics): the MLP with 16 hidden units, FedAvg, two
local epochs of batches of 16, GTG-Shapley contributions, the improvement budget.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fl_node.data.registry import fetch
from kernel.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

DATASET = "uci_default_credit_raw"
"""The registry dataset the parties' rows come from."""

FILE = "UCI_Credit_Card.csv"
LABEL = "default.payment.next.month"


@dataclass(frozen=True)
class PartySplit:
    """The files of one split and the task designed on it.

    Parameters
    ----------
    parties : tuple of Path
        Each party's CSV, in order.
    validation, test : Path
        The coordinator's validation file and the held-out test file.
    schema : Path
        The data schema.
    spec : Path
        The task spec ``task design`` wrote.
    """

    parties: tuple[Path, ...]
    validation: Path
    test: Path
    schema: Path
    spec: Path


def run_cli(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """``python -m fedmarket ARGS`` to its end; its stdout.

    Raises
    ------
    ServiceUnavailableError
        When it exits with another status than 0 (the message ends with its stderr's tail).
    """
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "fedmarket", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceUnavailableError(
            f"bench-load: `fedmarket {' '.join(args[:2])}` exited with {done.returncode}: "
            f"{done.stderr[-1500:]}"
        )
    return done.stdout


def prepare_split(folder: Path, parties: int, rounds: int, seed: int = 1) -> PartySplit:
    """Split the rows over ``parties`` and design a task of ``rounds`` rounds on them.

    Parameters
    ----------
    folder : Path
        Created; the files go there.
    parties : int
        Parties to deal to.
    rounds : int
        The task's rounds.
    seed : int, default 1
        Seed of the split.
    """
    files = fetch(DATASET)
    rows = str(files[FILE])
    folder.mkdir(parents=True, exist_ok=True)
    schema, parts = folder / "schema.json", folder / "parts"
    run_cli(["data", "schema", rows, "--label", LABEL, "--drop", "ID", "--kind", "binary",
             "--name", "default-credit", "--out", str(schema)])  # fmt: skip
    run_cli(["data", "split", rows, "--schema", str(schema), "--parties", str(parties),
             "--seed", str(seed), "--out", str(parts)])  # fmt: skip
    party_files = tuple(sorted(parts.glob("party-*.csv")))
    spec = folder / "spec.json"
    stats = [arg for path in party_files for arg in ("--stats-from", str(path))]
    run_cli(["task", "design", "--schema", str(schema), *stats, "--rounds", str(rounds),
             "--name", "load-bench", "--out", str(spec)])  # fmt: skip
    log.info("prepare_split: %d parties, %d rounds in %s", len(party_files), rounds, folder)
    return PartySplit(party_files, parts / "validation.csv", parts / "test.csv", schema, spec)


__all__ = ["DATASET", "PartySplit", "prepare_split", "run_cli"]
