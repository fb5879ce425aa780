"""German credit as a bank would bring it: one guest and two hosts, each with its own CSV.

The raw UCI file (``german.data``: 1,000 customers, 20 attributes of which 13 coded
categorical ``A11``..., label 1 good / 2 bad, no id column, no header) is split vertically
the way real partners' extracts differ:

* ``guest.csv``: ``id`` written ``cust-0001``, the label ``credit_risk`` (1/2, as in the
  source) and attributes 1-6 (checking account, duration, history, purpose, amount, savings);
* ``host1.csv``: ids written ``0001``, attributes 7-13 (employment ... age);
* ``host2.csv``: ids written ``C1``, attributes 14-20 (other plans ... foreign worker).

Each party keeps its own random ~90 % of the customers (so ~10 % of rows are missing on each
side, independently) in its own shuffled order; ``blank_share`` also empties that share of
feature cells at random (missing values to impute). The id formats differ on purpose: the
preflight has to catch it and suggest the rule (``prefix="cust-"|prefix="C"|lstrip0``).

Run it::

    FEDMARKET_DATA_DIR=../shared/data python -m fedmarket.demo.german_tables OUT_DIR
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernel.errors import IntegrityError, NotFoundError

ATTRIBUTES = (
    "checking_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installments",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
)
"""The 20 attributes of ``german.doc``, in file order."""

LABEL = "credit_risk"
ID_COLUMN = "id"
SOURCE_SHA256 = "e2bc10785808eeb5e30462f0805edb73a672f295bc671dec0bca6e2fb5c8e1ca"
"""``german.data`` as pinned in the shared data folder's README."""

_PARTIES = (
    ("guest", range(0, 6), "cust-{:04d}"),
    ("host1", range(6, 13), "{:04d}"),
    ("host2", range(13, 20), "C{:d}"),
)


@dataclass(frozen=True)
class GermanSplit:
    """The files written by :func:`write_german_split`.

    Attributes
    ----------
    guest : Path
        The guest's CSV (id, label, features).
    hosts : tuple of Path
        The two hosts' CSVs.
    id_column, label_column : str
        The column names to pass on (``id``, ``credit_risk``).
    """

    guest: Path
    hosts: tuple[Path, ...]
    id_column: str = ID_COLUMN
    label_column: str = LABEL


def default_source() -> Path:
    """``$FEDMARKET_DATA_DIR/german_credit_uci/german.data``."""
    root = os.environ.get("FEDMARKET_DATA_DIR")
    if not root:
        raise NotFoundError("set FEDMARKET_DATA_DIR to the shared data folder")
    return Path(root) / "german_credit_uci" / "german.data"


def read_source(source: Path) -> list[list[str]]:
    """The raw rows (21 fields each), checked against the pinned SHA-256.

    Parameters
    ----------
    source : Path
        ``german.data``.
    """
    if not source.is_file():
        raise NotFoundError(f"{source}: no such file")
    raw = source.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SOURCE_SHA256:
        raise IntegrityError(f"{source}: not the pinned german.data (sha256 differs)")
    rows = [line.split() for line in raw.decode("ascii").splitlines() if line.strip()]
    if any(len(row) != len(ATTRIBUTES) + 1 for row in rows):
        raise IntegrityError(f"{source}: a row without 21 fields")
    return rows


def write_german_split(
    out: Path,
    *,
    source: Path | None = None,
    seed: int = 0,
    missing_rows: float = 0.10,
    blank_share: float = 0.0,
) -> GermanSplit:
    """Write the guest's and the two hosts' CSVs into ``out``.

    Parameters
    ----------
    out : Path
        Folder (created).
    source : Path or None, default None
        ``german.data``; :func:`default_source` when ``None``.
    seed : int, default 0
        Seed of the rows each party lacks, the row orders and the blanks.
    missing_rows : float, default 0.10
        Share of the customers each party lacks (drawn independently per party).
    blank_share : float, default 0.0
        Share of each party's feature cells emptied.
    """
    rows = read_source(source or default_source())
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stream, (name, columns, id_format) in enumerate(_PARTIES, 1):
        rng = np.random.default_rng([seed, stream])
        keep = rng.permutation(len(rows))[: int(round((1 - missing_rows) * len(rows)))]
        header = [ID_COLUMN] + ([LABEL] if name == "guest" else [])
        header += [ATTRIBUTES[c] for c in columns]
        body = []
        for i in keep.tolist():  # already in a random order
            cells = [rows[i][c] if rng.random() >= blank_share else "" for c in columns]
            label = [rows[i][-1]] if name == "guest" else []
            body.append([id_format.format(i + 1), *label, *cells])
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *body])
        paths.append(path)
    return GermanSplit(guest=paths[0], hosts=tuple(paths[1:]))


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m fedmarket.demo.german_tables OUT [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--missing-rows", type=float, default=0.10)
    parser.add_argument("--blank-share", type=float, default=0.0)
    args = parser.parse_args(argv)
    split = write_german_split(
        args.out, seed=args.seed, missing_rows=args.missing_rows, blank_share=args.blank_share
    )
    print(split.guest, *split.hosts)  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()


__all__ = [
    "ATTRIBUTES",
    "LABEL",
    "GermanSplit",
    "default_source",
    "read_source",
    "write_german_split",
]
