"""``fedmarket data``: the registry, the demo's hospital files, and the data a party brings.

``check``, ``split`` and ``schema`` work on any table or image dataset under a task's data
schema (:mod:`fl_node.data.schema`); ``--schema`` takes a schema file or a ready schema's name
(``heart-disease``, ``mnist``).

``fedmarket data check`` exits 0 when every file passes, 1 (the verdict is negative) when a file
breaks the schema's rules (one ``problem:`` line each), and 2 when a file or schema cannot be
read at all.

``fedmarket data forget`` deletes a participant's data copies and caches after training and
writes a signed deletion record anchored on-chain; ``fedmarket data verify-deletion`` checks one
(exit 1 when a recorded file still exists, 6 when the record was tampered with).

``fedmarket data anchor-log`` anchors an access log's head on-chain (run it from cron: with
``--period`` it anchors only when the head moved and the last anchor is that old);
``fedmarket data verify-log`` checks the hash chain and every recorded anchor (exit 6 when an
entry, a segment or an anchor was tampered with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedmarket.cli._checks import address as check_address
from fedmarket.cli._common import KeyEnvOpt, connect_deployment, console, out
from fedmarket.cli.errors import EXIT_VERDICT

data_app = typer.Typer(
    help="Datasets: the registry, the demo's files, and checking, splitting and describing "
    "a party's own data.",
    no_args_is_help=True,
)

if TYPE_CHECKING:
    from chain import ChainBackend
    from fl_node.data import DataSchema, SchemaPlan

SchemaOpt = Annotated[
    str,
    typer.Option("--schema", help="A schema JSON file, or a ready schema: heart-disease, mnist."),
]


def _schema(value: str) -> DataSchema:
    """A schema file, else a ready schema by name."""
    from fl_node.data import DataSchema, load_schema
    from fl_node.data.schemas import READY

    if value in READY and not Path(value).is_file():
        return load_schema(value)
    return DataSchema.load(value)


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


@data_app.command("check")
def data_check(
    files: Annotated[list[Path], typer.Argument(help="The party's files (CSV, NPZ, IDX, folder).")],
    schema: SchemaOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Check files against the task's schema: missing values, ranges, categories, labels.

    Exit 0 when all pass, 1 when one breaks the schema's rules, 2 when one cannot be read.
    """
    from fl_node.data import check, read_raw

    spec = _schema(schema)
    reports = [check(spec, read_raw(file, spec)) for file in files]
    if as_json:
        out.print_json(data=[r.to_dict() for r in reports])
    else:
        for line in (line for r in reports for line in r.lines()):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    failed = sum(not r.ok for r in reports)
    if failed:
        console.print(f"{failed} of {len(files)} file(s) break the schema's rules", markup=False)
        raise typer.Exit(EXIT_VERDICT)


@data_app.command("split")
def data_split_any(
    inputs: Annotated[list[Path], typer.Argument(help="Data files, joined in order.")],
    schema: SchemaOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the parts' files.")],
    parties: Annotated[int, typer.Option(min=1, max=10_000, help="Parties to deal to.")] = 4,
    mode: Annotated[
        str,
        typer.Option(
            help="iid, dirichlet (label skew), quantity (size skew), or files "
            "(each input is one party)."
        ),
    ] = "iid",
    alpha: Annotated[float, typer.Option(min=1e-6, help="Dirichlet concentration.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of every draw.")] = 0,
    test_fraction: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.2,
    validation_fraction: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.1,
    min_rows: Annotated[int, typer.Option(min=1, help="Fewest rows per party.")] = 1,
) -> None:
    """Split a dataset into party-NN files plus validation and test files, and split.json.

    Tables are written as CSV with a header (raw cells), images as NPZ (x, y); both are read
    back with the same schema by ``data check`` and the participants.
    """
    from fl_node.data.formats import concat_raw, read_raw
    from fl_node.data.partition import (
        partition,
        partition_by_source,
        write_manifest,
        write_parts,
    )

    spec = _schema(schema)
    sources = [read_raw(f, spec) for f in inputs]
    columns = None if spec.image is not None else spec.column_names()
    raw = concat_raw(sources, columns)
    fractions = {"test_fraction": test_fraction, "validation_fraction": validation_fraction}
    if mode == "files":
        parts = partition_by_source(spec, sources, seed=seed, **fractions)
    else:
        parts = partition(
            spec, raw, parties=parties, mode=mode, alpha=alpha, seed=seed,  # type: ignore[arg-type]
            min_rows=min_rows, **fractions,
        )  # fmt: skip
    files = write_parts(spec, raw, parts, out_dir)
    settings = {"inputs": [str(f) for f in inputs], "mode": mode, "parties": len(parts) - 2,
                "alpha": alpha, "seed": seed, "min_rows": min_rows, **fractions}  # fmt: skip
    write_manifest(files, out_dir / "split.json", settings)
    for part in files:
        labels = ", ".join(f"{k}: {n}" for k, n in part.labels)
        out.print(f"{part.path.name}: {part.rows} rows ({labels})", markup=False, soft_wrap=True)


def _pairs(values: list[str] | None) -> dict[str, list[float]]:
    """``COL=V`` options as column -> numbers."""
    from fl_node.errors import DataError

    found: dict[str, list[float]] = {}
    for item in values or []:
        column, sep, number = item.partition("=")
        try:
            found.setdefault(column, []).append(float(number))
        except ValueError:
            raise DataError(f"--missing-value {item!r}: write COLUMN=NUMBER") from None
        if not sep:
            raise DataError(f"--missing-value {item!r}: write COLUMN=NUMBER")
    return found


_Texts = list[str] | None
_FilesArg = Annotated[list[Path] | None, typer.Argument(help="Parties' files (one or more).")]
_ReadyOpt = Annotated[str | None, typer.Option(help="Write a ready schema: heart-disease, mnist.")]
_ColumnsOpt = Annotated[str | None, typer.Option(help="A headerless CSV's column names: a,b,c.")]
_CategoricalOpt = Annotated[_Texts, typer.Option(help="A categorical column (repeat it).")]
_DropOpt = Annotated[_Texts, typer.Option(help="A column to ignore (repeat it).")]
_MissingOpt = Annotated[_Texts, typer.Option(help="A cell meaning missing, e.g. ? (repeat it).")]
_MissingValueOpt = Annotated[_Texts, typer.Option(help="COL=V: the number V means missing in COL.")]
_PositiveOpt = Annotated[_Texts, typer.Option(help="A binary label's value meaning 1 (repeat).")]
_ShapeOpt = Annotated[str | None, typer.Option(help="CxHxW: the files hold images of this shape.")]
_PlanOpt = Annotated[
    str | None, typer.Option(help="A plan JSON, or heart-disease: derive from --summary files.")
]
_SummaryOpt = Annotated[
    list[Path] | None, typer.Option(help="A party's summary (fedmarket data summary; repeat).")
]
_PlanOutOpt = Annotated[
    Path | None, typer.Option(help="Also write the plan (kinds and rules, no values) here.")
]


def _plan(value: str) -> SchemaPlan:
    """A plan file, else the ready heart-disease plan by name."""
    from fl_node.data import SchemaPlan
    from fl_node.data.schemas import heart_disease_plan

    if value == "heart-disease" and not Path(value).is_file():
        return heart_disease_plan()
    return SchemaPlan.load(value)


@data_app.command("summary")
def data_summary(
    file: Annotated[Path, typer.Argument(help="This party's CSV file.")],
    plan: Annotated[str, typer.Option(help="The sponsor's plan JSON, or heart-disease.")],
    out_path: Annotated[Path, typer.Option("--out", help="The summary JSON to write.")],
) -> None:
    """Write what this party publishes about its file under the sponsor's plan.

    Counts, sums and ranges per numeric column (quantiles every 5 % where the plan imputes by
    the median), rows per category and per label value; never a row. The sponsor combines the
    parties' summaries with ``fedmarket data schema --plan PLAN --summary FILE ...``.
    """
    from fl_node.data import read_csv, summarise

    spec = _plan(plan)
    table = read_csv(file, names=[c.name for c in spec.columns])
    summary = summarise(spec, table)
    out_path.write_text(summary.to_json(), encoding="utf-8")
    out.print(f"{out_path}: {summary.rows} rows summarised (no rows copied)", markup=False)


@data_app.command("schema")
def data_schema(
    files: _FilesArg = None,
    out_path: Annotated[Path, typer.Option("--out", help="The JSON to write.")] = Path(
        "schema.json"
    ),
    ready: _ReadyOpt = None,
    label: Annotated[str, typer.Option(help="The label column.")] = "label",
    kind: Annotated[str, typer.Option(help="binary, multiclass or regression.")] = "binary",
    name: Annotated[str, typer.Option(help="The schema's name.")] = "dataset",
    columns: _ColumnsOpt = None,
    categorical: _CategoricalOpt = None,
    drop: _DropOpt = None,
    missing: _MissingOpt = None,
    missing_value: _MissingValueOpt = None,
    positive: _PositiveOpt = None,
    impute: Annotated[str, typer.Option(help="Numeric fill: mean or median.")] = "mean",
    image_shape: _ShapeOpt = None,
    plan: _PlanOpt = None,
    summary: _SummaryOpt = None,
    plan_out: _PlanOutOpt = None,
) -> None:
    """Write a schema inferred from the parties' own files (kinds, ranges, fill values).

    Each file is summarised on its own and the summaries combined (no rows pooled). A
    column is numeric when every present cell is a number, else categorical. With ``--plan``
    and ``--summary``, the schema comes from the summaries the parties published instead.
    """
    from fl_node.data import PartySummary, derive_schema, load_schema
    from fl_node.errors import DataError

    if ready is not None:
        spec = load_schema(ready)
    elif plan is not None:
        spec = derive_schema(_plan(plan), [PartySummary.load(s) for s in summary or []])
    elif not files:
        raise DataError("give the parties' files, or --ready NAME")
    elif image_shape is not None or _holds_images(files[0]):
        spec = _image_schema(files, image_shape, name=name, kind=kind)
    else:
        options: dict[str, object] = {
            "label": label,
            "kind": kind,
            "name": name,
            "categorical": categorical or (),
            "drop": drop or (),
            "missing_tokens": missing or (),
            "missing_values": _pairs(missing_value),
            "numeric_impute": impute,
            "positive": positive or (),
        }
        names = columns.split(",") if columns else None
        spec = _table_schema(files, names, options, plan_out)
    spec.save(out_path)
    shape = "x".join(map(str, spec.input_shape))
    out.print(f"{out_path}: {spec.target_kind} target, {shape} inputs, {spec.n_classes} "
              f"output(s)", markup=False)  # fmt: skip


def _holds_images(path: Path) -> bool:
    return path.is_dir() or "idx3-ubyte" in path.name or path.suffix.lower() == ".npz"


def _image_schema(files: list[Path], shape: str | None, *, name: str, kind: str) -> DataSchema:
    """The schema of image files; ``shape`` (``CxHxW``) is read from the first file when None."""
    from fl_node.data import DataSchema, ImageSpec, RawImages, Target, image_schema, read_raw
    from fl_node.data.formats import concat_raw, probe_image_shape
    from fl_node.errors import DataError

    try:
        c, h, w = (
            probe_image_shape(files[0])
            if shape is None
            else tuple(int(v) for v in shape.lower().split("x"))
        )
    except ValueError:
        raise DataError(f"--image-shape {shape!r}: write CxHxW, e.g. 1x28x28") from None
    probe = DataSchema(
        name, Target("label", "multiclass", classes=("0", "1")), image=ImageSpec(c, h, w)
    )
    raw = concat_raw([read_raw(f, probe) for f in files])
    if not isinstance(raw, RawImages):
        raise DataError("the files do not hold images")
    return image_schema(raw, name=name, kind=kind)  # type: ignore[arg-type]


def _table_schema(
    files: list[Path], names: list[str] | None, options: dict[str, object], plan_out: Path | None
) -> DataSchema:
    from fl_node.data import derive_schema, read_csv, summarise
    from fl_node.data.derive import infer_plan, merge_plans

    tables = [read_csv(f, names=names, header=False if names else None) for f in files]
    plan = merge_plans([infer_plan(t, **options) for t in tables])  # type: ignore[arg-type]
    if plan_out is not None:
        plan_out.write_text(json.dumps(plan.to_dict(), indent=2) + "\n", encoding="utf-8")
    return derive_schema(plan, [summarise(plan, t) for t in tables])


_DataFilesOpt = Annotated[
    list[Path] | None, typer.Option("--data", help="A raw data copy to delete (repeat it).")
]
_CacheOpt = Annotated[
    list[Path] | None, typer.Option("--cache", help="A cache folder to delete (repeat it).")
]
_OptionalRpcOpt = Annotated[
    str | None, typer.Option("--rpc", help="JSON-RPC URL of the chain to anchor on.")
]
_OptionalDeploymentOpt = Annotated[
    Path | None, typer.Option("--deployment", help="Deployment JSON, to check the chain.")
]


@data_app.command("public-key")
def data_public_key(key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY") -> None:
    """Print the account's compressed secp256k1 public key and address (for --sealed-for/-reader).

    A sponsor lists these keys in a spec that seals updates or artifacts; nothing secret is
    printed.
    """
    from chain import account_from_env
    from storage.sealed_store import holder_id
    from storage.sealing import public_key_of

    account = account_from_env(key_env)
    out.print(f"{holder_id(public_key_of(bytes(account.key)))} {account.address}", markup=False)


@data_app.command("forget")
def data_forget(
    out_path: Annotated[Path, typer.Option("--out", help="The deletion record to write.")],
    data: _DataFilesOpt = None,
    cache: _CacheOpt = None,
    task: Annotated[int | None, typer.Option("--task", help="The task the data served.")] = None,
    rpc: _OptionalRpcOpt = None,
    deployment: _OptionalDeploymentOpt = None,
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
) -> None:
    """Delete data copies and caches (overwrite, then unlink); write a signed, anchored record.

    The record (paths, sha-256, sizes, time) is signed with the participant's key and its
    digest anchored on-chain from the participant's account (it pays the gas). Without
    ``--rpc`` it is anchored on an in-process chain that ends with the command: the record
    still verifies by its signature, but the anchor cannot be re-checked later.
    """
    from chain import InProcessBackend, account_from_env, fund, signer_for
    from fl_node.compliance import anchor_deletion, forget

    account = account_from_env(key_env)  # before anything is deleted
    if rpc is not None:
        backend = _anchor_chain(rpc, deployment)
        note = f"chain {backend.chain_id}: verify with its --rpc"  # no URL: it may hold a key
    else:
        backend = InProcessBackend()
        fund(backend, account.address, 10**18)
        note = "in-process chain that ended with the command: not re-checkable (use --rpc)"
    signed = forget(data or [], cache or [], account, task_id=task)
    out_path.write_text(signed.to_json(), encoding="utf-8")  # kept even if anchoring fails
    signed = anchor_deletion(signed, signer_for(backend, account), note=note)
    out_path.write_text(signed.to_json(), encoding="utf-8")
    assert signed.anchor is not None
    out.print(f"{out_path}: {len(signed.record.files)} file(s) deleted, signed by "
              f"{signed.record.participant}, anchored in block {signed.anchor.block} ({note})",
              markup=False, soft_wrap=True)  # fmt: skip


def _anchor_chain(rpc: str, deployment: Path | None) -> ChainBackend:
    from chain import connect

    return connect(rpc) if deployment is None else connect_deployment(rpc, deployment)[0]


@data_app.command("verify-deletion")
def data_verify_deletion(
    record: Annotated[Path, typer.Argument(help="The record written by `data forget`.")],
    rpc: _OptionalRpcOpt = None,
) -> None:
    """Check a deletion record: its signature, its anchor (with ``--rpc``), that files are gone.

    Exit 0 when all hold, 1 when a recorded file still exists, 6 when the signature or the
    anchor does not match the record (tampered), 4 when the anchor is not on the chain.
    """
    from chain import connect
    from fl_node.compliance import SignedDeletion, verify_deletion

    signed = SignedDeletion.load(record)
    check = verify_deletion(signed, None if rpc is None else connect(rpc))
    if check.remaining:
        console.print(f"{record}: {len(check.remaining)} recorded path(s) still exist, e.g. "
                      f"{check.remaining[0]}", markup=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(EXIT_VERDICT)
    anchored = "" if check.anchor_time is None else f", anchored at chain time {check.anchor_time}"
    note = f" ({check.note})" if check.note else ""
    out.print(f"{record}: signed by {check.signer}{anchored}; every recorded file is gone{note}",
              markup=False, soft_wrap=True)  # fmt: skip


_LogDirArg = Annotated[Path, typer.Argument(help="The access log's folder.")]


@data_app.command("anchor-log")
def data_anchor_log(
    log_dir: _LogDirArg,
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain to anchor on.")],
    key_env: KeyEnvOpt = "FEDMARKET_LOG_KEEPER_KEY",
    period: Annotated[
        float,
        typer.Option(help="Anchor only when the last anchor is this many seconds old (0: now)."),
    ] = 0.0,
) -> None:
    """Anchor the access log's head on-chain from the log keeper's account (it pays the gas).

    Without the anchor, deleting the newest entries leaves a shorter chain that verifies on its
    own; each anchor fixes the head it names.
    """
    from chain import account_from_env, connect, signer_for
    from fl_node.compliance import anchor_if_due
    from storage.access_log import AccessLog

    access_log = AccessLog(_existing_log(log_dir))
    signer = signer_for(connect(rpc), account_from_env(key_env))
    made = anchor_if_due(access_log, signer, period_s=period)
    if made is None:
        out.print(f"{log_dir}: nothing to anchor (empty, unchanged or anchored recently)",
                  markup=False, soft_wrap=True)  # fmt: skip
        return
    out.print(f"{log_dir}: entry {made.head.seq} anchored in block {made.anchor.block} "
              f"by {made.anchor.sender}", markup=False, soft_wrap=True)  # fmt: skip


@data_app.command("verify-log")
def data_verify_log(
    log_dir: _LogDirArg,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="The chain its heads are anchored on.")
    ] = None,
    keeper: Annotated[
        str | None,
        typer.Option(
            "--keeper",
            metavar="ADDRESS",
            help="The log keeper's account (used for nothing but anchoring this log): every "
            "transaction it sent must be a listed anchor. Needs --rpc.",
        ),
    ] = None,
) -> None:
    """Check the access log's hash chain, and with ``--rpc`` every recorded anchor on-chain.

    Exit 0 when it holds, 6 when an entry, a segment boundary or an anchor was tampered with,
    or (with ``--keeper``) an anchor the keeper sent is missing from the list (a breach alert is
    fired too).
    """
    from chain import connect
    from fl_node.compliance import verify_log
    from kernel.errors import InvalidInputError
    from storage.access_log import AccessLog

    access_log = AccessLog(_existing_log(log_dir))
    if keeper is not None:
        if rpc is None:
            raise InvalidInputError("--keeper needs --rpc (the chain the keeper anchors on)")
        keeper = check_address("--keeper", keeper)
    report = (
        access_log.verify() if rpc is None else verify_log(access_log, connect(rpc), keeper=keeper)
    )
    report.check()
    note = f" ({report.note})" if report.note else ""
    out.print(f"{log_dir}: {report.entries} entries in {len(report.segments)} segment(s) hold; "
              f"anchored head checked: {report.anchored_checked}{note}",
              markup=False, soft_wrap=True)  # fmt: skip


def _existing_log(log_dir: Path) -> Path:
    from kernel.errors import InvalidInputError

    if not log_dir.is_dir():
        raise InvalidInputError(f"{log_dir}: no access log folder there")
    return log_dir
