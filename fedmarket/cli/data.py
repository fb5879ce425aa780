"""``fedmarket data``: the dataset registry and the demo's hospital files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedmarket.cli._common import out

data_app = typer.Typer(
    help="Datasets: the registry and the demo's hospital files.", no_args_is_help=True
)


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset name in the registry.")],
    download: Annotated[bool, typer.Option(help="Download missing files.")] = True,
) -> None:
    """Fetch a registry dataset into the data directory and verify its sha256."""
    from fl_node.data.registry import fetch

    for file, path in fetch(name, download=download).items():
        out.print(f"{file}: {path} (verified)")


@data_app.command("split-hospitals")
def data_split(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for one CSV per party.")],
    hospitals: Annotated[int, typer.Option(min=2, max=16)] = 4,
    seed: Annotated[int, typer.Option()] = 2024,
) -> None:
    """Write the demo's non-IID hospital split: hospital-N.csv, validation.csv, test.csv."""
    from fl_node.data import breast_cancer_hospitals, save_csv

    split = breast_cancer_hospitals(hospitals, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for part in (*split.hospitals, split.validation, split.test):
        name = {"coordinator-validation": "validation", "held-out-test": "test"}.get(
            part.name, part.name
        )
        save_csv(part, split.feature_names, out_dir / f"{name}.csv")
        out.print(f"{name}.csv: {part.rows} rows, {part.positive_rate():.0%} malignant")
