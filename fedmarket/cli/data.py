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


@data_app.command("describe")
def data_describe(
    csv_path: Annotated[Path, typer.Argument(help="A CSV of features, the label last.")],
    out_path: Annotated[Path, typer.Option("--out", help="The metadata JSON to write.")],
    name: Annotated[str, typer.Option(help="The listing's name.")],
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    license_: Annotated[str, typer.Option("--license", help="Its licence.")] = "CC-BY-4.0",
    tag: Annotated[list[str] | None, typer.Option(help="A search tag (repeat it).")] = None,
) -> None:
    """Compute a listing's metadata from a CSV: schema, rows, statistics, quality; never rows.

    Upload the file in the listing form of the pages (``/ui/list``), which fills the fields and
    sends the statistics with the listing your wallet signs.
    """
    import csv
    import json

    from fedmarket.demo.task import describe_dataset
    from fl_node.data.io import load_csv

    data = load_csv(csv_path)
    with csv_path.open(newline="", encoding="utf-8") as fh:
        features = next(csv.reader(fh))[:-1]
    metadata = describe_dataset(
        data, features, name=name, description=description, license=license_, tags=tag or []
    )
    out_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    out.print(f"{out_path}: {data.rows} rows, {len(features)} features described (no rows copied)")
