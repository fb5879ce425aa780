"""``fedmarket task``: design, create, invite to and inspect training tasks (protocol v2)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedmarket.cli._checks import (
    address,
    choice,
    duration,
    float_range,
    int_list,
    int_range,
    key_values,
)
from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    open_store,
    out,
    plain_store,
)
from kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from chain.fed_task import Schedule
    from fedmarket.design import DesignInputs, ListingSelection
    from fl_node.data import DataSchema
    from fl_node.models import ModelSpec
    from fl_node.sponsor import TaskTerms
    from fl_node.task import TaskSpec
    from incentives.rewards import RewardPolicy

task_app = typer.Typer(
    help="Design, create, invite to and inspect training tasks.", no_args_is_help=True
)

TARGET_METRICS = (
    *("accuracy", "precision", "recall", "f1", "auc", "ks", "log_loss"),
    *("macro_f1", "mae", "rmse", "r2"),
)
"""Held-out test metrics a sponsor may set a target on: a floor, or a ceiling for log_loss, mae
and rmse; the task's kind decides which apply (binary: accuracy..log_loss; multiclass:
accuracy, macro_f1, auc, log_loss; regression: mae, rmse, r2)."""
DEFAULT_HIDDEN = "16"


def _model_kinds() -> tuple[str, ...]:
    from fl_node.models import MODEL_KINDS

    return MODEL_KINDS


def _strategies() -> list[str]:
    from fl_node.strategies import STRATEGIES

    return list(STRATEGIES)


def _defences() -> list[str]:
    from fl_node.strategies.robust import DEFENCES

    return list(DEFENCES)


def _defence_params() -> list[str]:
    from fl_node.strategies.robust import DEFENCE_PARAMETERS

    return sorted({p for names in DEFENCE_PARAMETERS.values() for p in names})


def _contribution_methods() -> tuple[str, ...]:
    from fl_node.task import CONTRIBUTION_METHODS

    return CONTRIBUTION_METHODS


ApiOpt = Annotated[
    str | None,
    typer.Option("--api", metavar="URL", help="Marketplace: pool its listings' statistics."),
]
TagOpt = Annotated[str | None, typer.Option("--tag", help="With --api: only listings so tagged.")]
StatsFromOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--stats-from",
        metavar="FILE",
        help="A party's file: its statistics are computed alone and pooled, never its rows "
        "(with --schema any layout the schema reads, else a numeric CSV); repeatable.",
    ),
]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema",
        metavar="FILE|NAME",
        help="The task's data schema: a JSON file (fedmarket data schema) or a ready one "
        "(heart-disease, mnist). It sets the task kind, the classes and the encoding.",
    ),
]
KindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="binary, multiclass or regression (default: the schema's, else binary).",
        callback=choice("--kind", lambda: ("binary", "multiclass", "regression")),
    ),
]
LayersOpt = Annotated[
    Path | None,
    typer.Option(
        "--layers",
        metavar="JSON",
        help='--model declared: a JSON list of layers, e.g. [{"op": "linear", "size": 32}, '
        '{"op": "relu"}] (ops: linear, conv2d, maxpool2d, avgpool2d, flatten, relu, tanh, '
        "gelu, sigmoid, dropout).",
    ),
]
ChannelsOpt = Annotated[
    str | None, typer.Option("--channels", help="--model cnn: convolution channels, e.g. 16,32.")
]
StrategyParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--strategy-param",
        metavar="NAME=VALUE",
        help="A hyperparameter of the strategy: mu (fedprox); beta1, beta2, tau (fedadam, "
        "fedyogi; fedadagrad: beta1, tau); repeatable.",
    ),
]
DefenceOpt = Annotated[
    str | None,
    typer.Option(
        "--defence",
        help="Robust aggregation rule run on the screened updates before the strategy: clip, "
        "median, trimmed_mean, krum, multi_krum, fltrust or trusted_vote (default: none). "
        "Updates it flags are rejected, unpaid and flagged on-chain for slashing.",
        callback=choice("--defence", _defences),
    ),
]
DefenceParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--defence-param",
        metavar="NAME=VALUE",
        help="A hyperparameter of the defence: flag_at, clip_max_norm, clip_norm_factor (all); "
        "beta (trimmed_mean); f (krum, multi_krum); m (multi_krum); repeatable.",
    ),
]
SampleOpt = Annotated[
    float,
    typer.Option(
        "--sample-fraction",
        help="Share of the participants that train each round (client sampling).",
        callback=float_range("--sample-fraction", 0, 1, low_open=True),
    ),
]
SampleSeedOpt = Annotated[
    int,
    typer.Option(
        "--sample-seed",
        help="Seed of the client sampling.",
        callback=int_range("--sample-seed", 0, 2**63),
    ),
]
LabelOpt = Annotated[
    str, typer.Option("--label", help="Label column of the listings or CSV files (not a feature).")
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Task name (default: the --tag, else horizontal-task).")
]
DescriptionOpt = Annotated[str, typer.Option("--description", help="Free text.")]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="linear (logreg), mlp, cnn (images) or declared (--layers).",
        callback=choice("--model", _model_kinds),
    ),
]
HiddenOpt = Annotated[
    str | None,
    typer.Option("--hidden", help=f"MLP hidden widths, e.g. 32,16 (default: {DEFAULT_HIDDEN})."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the initial weights.")]
RoundsOpt = Annotated[
    int, typer.Option("--rounds", help="Training rounds.", callback=int_range("--rounds", 1, 1000))
]
EpochsOpt = Annotated[
    int,
    typer.Option(
        "--local-epochs", help="Local epochs per round.", callback=int_range("--local-epochs", 1)
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        help="Batch size (0: all local rows).",
        callback=int_range("--batch-size", 0),
    ),
]
LrOpt = Annotated[
    float,
    typer.Option(
        "--lr", help="Local learning rate.", callback=float_range("--lr", 0, low_open=True)
    ),
]
MomentumOpt = Annotated[
    float,
    typer.Option(
        "--momentum", help="SGD momentum.", callback=float_range("--momentum", 0, 1, high_open=True)
    ),
]
DecayOpt = Annotated[
    float,
    typer.Option("--weight-decay", help="L2 penalty.", callback=float_range("--weight-decay", 0)),
]
MaxStepsOpt = Annotated[
    int,
    typer.Option(
        "--max-steps",
        help="Optimizer steps per round at most (0: no limit).",
        callback=int_range("--max-steps", 0),
    ),
]
TrainSeedOpt = Annotated[int, typer.Option("--train-seed", help="Seed of the batch order.")]
StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy",
        help="fedavg, fedsgd, fedprox, fedadam, fedyogi or fedadagrad.",
        callback=choice("--strategy", _strategies),
    ),
]
ServerLrOpt = Annotated[
    float | None,
    typer.Option(
        "--server-lr",
        help="Server learning rate of the strategy (default: the strategy's own).",
        callback=float_range("--server-lr", 0, low_open=True),
    ),
]
ContributionOpt = Annotated[
    str,
    typer.Option(
        "--contribution",
        help="shapley-gtg (default), shapley-exact, shapley-tmc or leave-one-out.",
        callback=choice("--contribution", _contribution_methods),
    ),
]
BudgetOpt = Annotated[
    str,
    typer.Option(
        "--reward-budget",
        help="improvement (a round pays what the model's measured gain earns) or even.",
        callback=choice("--reward-budget", lambda: ("improvement", "even")),
    ),
]
FullAtOpt = Annotated[
    float,
    typer.Option(
        "--full-at",
        help="The gain (validation log loss) that earns a round's whole budget.",
        callback=float_range("--full-at", 0, low_open=True),
    ),
]
UnspentOpt = Annotated[
    str,
    typer.Option(
        "--unspent",
        help="return (to the sponsor after the task) or carry (to later rounds).",
        callback=choice("--unspent", lambda: ("return", "carry")),
    ),
]
FloorOpt = Annotated[
    int,
    typer.Option(
        "--floor-bps",
        help="Participation floor: basis points of a round's budget shared equally (0..5000).",
        callback=int_range("--floor-bps", 0, 5000),
    ),
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="METRIC=VALUE",
        help=f"Acceptance target, e.g. f1=0.88; repeatable ({', '.join(TARGET_METRICS)}).",
    ),
]

AdversarialOpt = Annotated[
    str | None,
    typer.Option(
        "--adversarial",
        metavar="KIND=EPSILON",
        help="Adversarial local training, fgsm=EPSILON or pgd=EPSILON (e.g. pgd=0.1): pixels in "
        "[0, 1] for images, standard deviations of each feature for tables.",
    ),
]
DpEpsilonOpt = Annotated[
    float | None,
    typer.Option(
        "--dp-epsilon",
        help="Differential privacy: the epsilon a participant may spend over the task; the noise "
        "multiplier is calibrated to it (fl_node.dp). Without it, no DP.",
        callback=float_range("--dp-epsilon", 0.01, 1000),
    ),
]
DpDeltaOpt = Annotated[
    float,
    typer.Option(
        "--dp-delta",
        help="With --dp-epsilon: the delta.",
        callback=float_range("--dp-delta", 1e-12, 0.5),
    ),
]
DpClipOpt = Annotated[
    float,
    typer.Option(
        "--dp-clip",
        help="With --dp-epsilon: the L2 clip norm of an update (dp-fedavg) or an example's "
        "gradient (dp-sgd).",
        callback=float_range("--dp-clip", 1e-6, 1e6),
    ),
]
DpModeOpt = Annotated[
    str,
    typer.Option(
        "--dp-mode",
        help="With --dp-epsilon: dp-fedavg (client level: each participant clips its update and "
        "adds Gaussian noise) or dp-sgd[:RATE] (example level, Opacus DP-SGD with Poisson "
        "batches of RATE, default 0.01).",
    ),
]

SealedForOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sealed-for",
        metavar="PUBLIC_KEY",
        help="Seal every update at rest, its key wrapped to this secp256k1 public key (hex; "
        "repeat: the coordinator's, then the audit committee's). Without it, plain updates.",
    ),
]

SealedReaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sealed-reader",
        metavar="PUBLIC_KEY",
        help="Seal the task's models and evidence too, for the --sealed-for holders and this "
        "public key (repeat: every participant's, the sponsor's; `fedmarket data public-key`).",
    ),
]


@task_app.command("design")
def task_design(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the spec JSON.")],
    api: ApiOpt = None,
    tag: TagOpt = None,
    stats_from: StatsFromOpt = None,
    schema: SchemaOpt = None,
    kind: KindOpt = None,
    label: LabelOpt = "label",
    name: NameOpt = None,
    description: DescriptionOpt = "",
    model: ModelOpt = "mlp",
    hidden: HiddenOpt = None,
    channels: ChannelsOpt = None,
    layers: LayersOpt = None,
    seed: SeedOpt = 7,
    rounds: RoundsOpt = 10,
    local_epochs: EpochsOpt = 2,
    batch_size: BatchOpt = 16,
    lr: LrOpt = 0.05,
    momentum: MomentumOpt = 0.9,
    weight_decay: DecayOpt = 1e-4,
    max_steps: MaxStepsOpt = 0,
    train_seed: TrainSeedOpt = 0,
    strategy: StrategyOpt = "fedavg",
    server_lr: ServerLrOpt = None,
    strategy_param: StrategyParamOpt = None,
    defence: DefenceOpt = None,
    defence_param: DefenceParamOpt = None,
    sample_fraction: SampleOpt = 1.0,
    sample_seed: SampleSeedOpt = 0,
    contribution: ContributionOpt = "shapley-gtg",
    reward_budget: BudgetOpt = "improvement",
    full_at: FullAtOpt = 0.01,
    unspent: UnspentOpt = "return",
    floor_bps: FloorOpt = 0,
    target: TargetOpt = None,
    adversarial: AdversarialOpt = None,
    dp_epsilon: DpEpsilonOpt = None,
    dp_delta: DpDeltaOpt = 1e-5,
    dp_clip: DpClipOpt = 1.0,
    dp_mode: DpModeOpt = "dp-fedavg",
    sealed_for: SealedForOpt = None,
    sealed_reader: SealedReaderOpt = None,
) -> None:
    """Write a task spec for any dataset, scaled by --api listings or --stats-from files."""
    flags = dict(locals())  # every flag by parameter name, as typer converted it
    _write_spec(out_file, _design_spec(flags))


def _design_spec(flags: dict[str, Any]) -> TaskSpec:
    """The spec ``task design``'s flags (by parameter name) describe."""
    from fl_node.task import TaskSpec
    from fl_node.training import TrainConfig

    f = flags
    data = _schema(f["schema"])
    design = _design_inputs(f["api"], f["tag"], f["stats_from"], f["label"], data)
    task_kind = f["kind"] or (data.target_kind if data else "binary")
    shape = (f["hidden"], f["channels"], f["layers"], f["seed"])
    model_spec = _model(design, data, task_kind, f["model"], shape)
    train = TrainConfig(
        *(f["local_epochs"], f["batch_size"], f["lr"], f["momentum"], f["weight_decay"]),
        *(f["max_steps"], f["train_seed"]),
    )
    dp = _dp(f["dp_epsilon"], f["dp_delta"], f["dp_clip"], f["dp_mode"], f["rounds"], train)
    name = f["name"] or f["tag"] or (data.name if data else "horizontal-task")
    spec = TaskSpec(
        *(name, model_spec, train, f["rounds"]),
        feature_names=() if model_spec.is_image else design.features,
        contribution=f["contribution"],
        acceptance=_targets(f["target"], task_kind),
        description=f["description"],
        sample_fraction=f["sample_fraction"],
        sample_seed=f["sample_seed"],
        schema=data,
        rewards=_policy(f["reward_budget"], f["full_at"], f["unspent"], f["floor_bps"]),
        dp=dp,
        sealed_updates=tuple(f["sealed_for"] or ()),
        sealed_readers=tuple(f["sealed_reader"] or ()),
        **_rule_fields(
            *(f["strategy"], f["server_lr"], f["strategy_param"], f["defence"]),
            f["defence_param"],
        ),
    )
    return _with_adversarial(spec, f["adversarial"])


def _dp(
    epsilon: float | None, delta: float, clip: float, mode: str, rounds: int, train: Any
) -> Any:
    """The :class:`~fl_node.dp.DPConfig` the ``--dp-*`` flags ask for (``None`` without them)."""
    if epsilon is None:
        return None
    from fl_node.dp import DP_MODES, calibrate

    name, _, rate = mode.partition(":")
    if name not in DP_MODES or (rate and name != "dp-sgd"):
        raise InvalidInputError(f"--dp-mode: expected dp-fedavg or dp-sgd[:RATE], not {mode!r}")
    try:
        sample_rate = float(rate) if rate else (0.01 if name == "dp-sgd" else 1.0)
    except ValueError:
        raise InvalidInputError(f"--dp-mode: {rate!r} is not a sample rate") from None
    return calibrate(
        *(epsilon, delta),
        mode=name,
        clip_norm=clip,
        rounds=rounds,
        local_epochs=train.local_epochs,
        max_steps=train.max_steps,
        sample_rate=sample_rate,
    )


def _with_adversarial(spec: TaskSpec, value: str | None) -> TaskSpec:
    """``spec`` with the adversarial local training ``--adversarial KIND=EPSILON`` asks for."""
    from fl_node.errors import SpecError

    if value is None:
        return spec
    kind, _, number = value.partition("=")
    try:
        train = replace(spec.train, adversarial=kind.strip(), adv_epsilon=float(number))
    except (ValueError, SpecError):
        raise InvalidInputError(
            f"--adversarial: expected fgsm=EPSILON or pgd=EPSILON (0 < EPSILON <= 100), "
            f"not {value!r}"
        ) from None
    return replace(spec, train=train)


def _rule_fields(
    strategy: str,
    server_lr: float | None,
    strategy_param: list[str] | None,
    defence: str | None,
    defence_param: list[str] | None,
) -> dict[str, Any]:
    """The spec's aggregation fields: the strategy and the defence with their parameters.

    ``--defence-param`` names any defence's parameters; the spec checks them against the rule.
    """
    if defence_param and not defence:
        raise InvalidInputError("task design: --defence-param needs --defence")
    return {
        "strategy": strategy,
        "server_lr": server_lr,
        "strategy_params": key_values(
            "--strategy-param", strategy_param or [], _strategy_params(), -1e9, 1e9
        ),
        "defence": defence or "",
        "defence_params": key_values(
            "--defence-param", defence_param or [], _defence_params(), 0, 1e12
        ),
    }


def _write_spec(out_file: Path, spec: TaskSpec) -> None:
    """Write the spec and say what it holds in one line."""
    out_file.write_bytes(spec.to_bytes())
    model = spec.model
    out.print(
        f"wrote {out_file}: {spec.name}, {model.n_features} features, a {model.task} task, "
        f"{model.kind} model, {spec.rounds} rounds, {spec.contribution} scores, "
        f"{spec.rewards.budget} budget"
    )


def _targets(target: list[str] | None, task_kind: str) -> dict[str, float]:
    """The ``--target`` values, checked against the task kind's metrics and their ranges."""
    from fl_node.errors import SpecError
    from fl_node.task import check_acceptance

    targets = key_values("--target", target or [], TARGET_METRICS, -1e9, 1e9)
    try:
        check_acceptance(task_kind, targets)
    except SpecError as exc:
        raise InvalidInputError(f"--target: {str(exc).removeprefix('TaskSpec: ')}") from None
    return targets


def _policy(budget: str, full_at: float, unspent: str, floor_bps: int) -> RewardPolicy:
    """The reward policy the ``--reward-budget``, ``--full-at``, ``--unspent`` flags state."""
    from incentives.rewards import RewardPolicy

    fields = {"budget": budget, "full_at": full_at, "unspent": unspent, "floor_bps": floor_bps}
    return RewardPolicy.from_dict(fields)


def _strategy_params() -> list[str]:
    from fl_node.strategies import PARAMETERS

    return sorted({p for names in PARAMETERS.values() for p in names} - {"server_lr"})


def _schema(value: str | None) -> DataSchema | None:
    """``--schema``: a ready schema's name or a JSON file."""
    from fl_node.data import DataSchema, load_schema
    from fl_node.data.schemas import READY

    if value is None:
        return None
    if value in READY:
        return load_schema(value)
    path = Path(value)
    if not path.is_file():
        raise InvalidInputError(f"--schema: no file {value} (ready: {', '.join(READY)})")
    try:
        return DataSchema.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"--schema {value}: not JSON ({exc})") from None


def _model(
    design: DesignInputs,
    data: DataSchema | None,
    task_kind: str,
    family: str,
    shape: tuple[str | None, str | None, Path | None, int],
) -> ModelSpec:
    """The model spec: the family, its sizes and the pooled scaling of the design's inputs."""
    from fedmarket.design import pooled_model
    from fl_node.models import LayerSpec

    hidden, channels, layers, seed = shape
    extra: dict[str, Any] = {"task": task_kind, "target": design.target or None}
    if task_kind == "multiclass":
        extra["classes"] = data.n_classes if data else design.classes
    if data is not None and data.image is not None:
        extra["input_shape"] = data.image.shape
    if channels is not None:
        extra["channels"] = tuple(int_list("--channels", channels))
    if layers is not None:
        extra["layers"] = tuple(LayerSpec.from_dict(v) for v in _json_list(layers))
    return pooled_model(
        design.stats, kind=family, hidden=_hidden(family, hidden), seed=seed, **extra
    )


def _json_list(path: Path) -> list[Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"--layers {path}: {exc}") from None
    if not isinstance(value, list):
        raise InvalidInputError(f"--layers {path}: a JSON list of layers")
    return value


def _hidden(model: str, hidden: str | None) -> tuple[int, ...]:
    """Hidden widths: ``--hidden`` for an MLP or a CNN's dense part; none for linear models."""
    if model in ("linear", "logreg", "declared"):
        if hidden is not None:
            raise InvalidInputError(f"--hidden applies to --model mlp or cnn, not {model}")
        return ()
    return int_list("--hidden", hidden or DEFAULT_HIDDEN)


def _design_inputs(
    api: str | None,
    tag: str | None,
    stats_from: list[Path] | None,
    label: str,
    schema: DataSchema | None,
) -> DesignInputs:
    """The statistics to pool and the feature columns, from the marketplace or the files."""
    from fedmarket.design import DesignInputs, inputs_from_files, stats_from_csv

    if api and stats_from:
        raise InvalidInputError("task design: give --api URL or --stats-from FILE, not both")
    if tag and not api:
        raise InvalidInputError("task design: --tag filters the listings of --api; give --api")
    if api:
        if schema is not None:
            raise InvalidInputError("task design: --schema designs from --stats-from files")
        selection = _selection(api, tag, label)
        return DesignInputs(selection.stats, selection.features)
    if stats_from and schema is not None:
        return inputs_from_files(schema, stats_from)
    if stats_from:
        return DesignInputs(*stats_from_csv(stats_from, label=label))
    raise InvalidInputError("task design: give --api URL or --stats-from FILE")


def _selection(api: str, tag: str | None, label: str) -> ListingSelection:
    """The listings under ``tag`` (all pages) the design trusts; says which it used and left out."""
    from rich.markup import escape

    from fedmarket.design import read_listings, select_listings
    from marketplace_api import MarketplaceClient

    with MarketplaceClient(api) as client:
        listings = read_listings(client, tag)
    selection = select_listings(listings, label=label)
    out.print(
        f"read {len(listings)} listings: {len(selection.used)} used, "
        f"{len(selection.excluded)} excluded"
    )
    for used in selection.used:
        capped = f" (capped from {used.claimed})" if used.rows != used.claimed else ""
        out.print(f"  used listing {used.id}: {used.rows} rows{capped}")
    for left in selection.excluded:
        out.print(f"  excluded listing {left.id}: {escape(left.reason)}")
    return selection


def _period(name: str, default: str, what: str) -> Any:
    """A ``--<name>`` duration option (checked in :func:`_schedule`)."""
    return typer.Option(f"--{name}", metavar="DURATION", help=f"{what} (e.g. 90s, 15m, 2h, 7d).")


JoinOpt = Annotated[str, _period("join-period", "1d", "Round 1 must open within this")]
CommitOpt = Annotated[str, _period("commit-period", "1h", "Round open -> commit deadline")]
InclusionOpt = Annotated[
    str, _period("inclusion-period", "30m", "Commit deadline -> reveal start (0 allowed)")
]
RevealOpt = Annotated[str, _period("reveal-period", "1h", "Reveal start -> reveal deadline")]
FinalizeOpt = Annotated[
    str, _period("finalize-period", "2h", "Reveal deadline -> finalize deadline")
]
ChallengeOpt = Annotated[
    str, _period("challenge-period", "1d", "Finalisation -> claimable (challenge window)")
]
OpenOpt = Annotated[str, _period("open-period", "1d", "Finalisation -> next round must open")]
GraceOpt = Annotated[str, _period("abort-grace", "1d", "After a missed deadline: anyone aborts")]
CooldownOpt = Annotated[str, _period("stake-cooldown", "1d", "Task end -> stakes withdrawable")]
QuorumOpt = Annotated[
    int,
    typer.Option(
        "--quorum",
        help="Accepted updates a round needs to pay.",
        callback=int_range("--quorum", 1, 1024),
    ),
]
StakeOpt = Annotated[
    int,
    typer.Option(
        "--participant-stake",
        help="Token wei each participant locks to join.",
        callback=int_range("--participant-stake", 0),
    ),
]
CoordinatorStakeOpt = Annotated[
    int,
    typer.Option(
        "--coordinator-stake",
        help="Token wei the coordinator locks before round 1.",
        callback=int_range("--coordinator-stake", 0),
    ),
]
SlashOpt = Annotated[
    int,
    typer.Option(
        "--slash-bps",
        help="Share of a flagged or stalling party's stake slashed (basis points).",
        callback=int_range("--slash-bps", 0, 10_000),
    ),
]
PermissionedOpt = Annotated[
    bool,
    typer.Option("--permissioned/--open", help="Join only if allowlisted (--allow) or invited."),
]
AllowOpt = Annotated[
    list[str] | None,
    typer.Option("--allow", metavar="ADDRESS", help="Allowlist an account; repeatable."),
]


PERIODS = (
    "join_period",
    "commit_period",
    "inclusion_period",
    "reveal_period",
    "finalize_period",
    "challenge_period",
    "open_period",
    "abort_grace",
    "stake_cooldown",
)
"""The schedule's periods, as ``task create`` takes them (``--join-period`` ...)."""


PoolOpt = Annotated[
    int, typer.Option("--pool", help="Reward pool in token wei.", callback=int_range("--pool", 1))
]
MaxParticipantsOpt = Annotated[
    int,
    typer.Option("--max-participants", callback=int_range("--max-participants", 1, 1024)),
]


def _schedule(periods: dict[str, str]) -> Schedule:
    """The task's :class:`~chain.fed_task.Schedule` from the ``--*-period`` values."""
    from chain.fed_task import Schedule

    seconds = {
        name: duration(f"--{name.replace('_', '-')}", text, allow_zero=name == "inclusion_period")
        for name, text in periods.items()
    }
    return Schedule(**seconds)


def _terms(
    schedule: Schedule,
    quorum: int,
    stakes: tuple[int, int],
    slash_bps: int,
    access: tuple[bool, list[str]],
    max_participants: int,
) -> TaskTerms:
    """The task's terms, every flag checked against the others."""
    from fl_node.sponsor import TaskTerms

    permissioned, allow = access
    if quorum > max_participants:
        raise InvalidInputError(
            f"--quorum {quorum} is above --max-participants {max_participants}: no round could pay"
        )
    if allow and not permissioned:
        raise InvalidInputError("--allow applies to --permissioned tasks")
    return TaskTerms(
        schedule=schedule,
        quorum=quorum,
        participant_stake=stakes[0],
        coordinator_stake=stakes[1],
        slash_bps=slash_bps,
        permissioned=permissioned,
        allow=tuple(address("--allow", a) for a in allow),
    )


@task_app.command("create")
def task_create(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    spec_file: Annotated[Path, typer.Option("--spec", help="Task spec JSON (TaskSpec).")],
    coordinator: Annotated[str, typer.Option(help="Coordinator address (not the sponsor).")],
    pool: PoolOpt,
    max_participants: MaxParticipantsOpt = 4,
    quorum: QuorumOpt = 1,
    participant_stake: StakeOpt = 0,
    coordinator_stake: CoordinatorStakeOpt = 0,
    slash_bps: SlashOpt = 0,
    permissioned: PermissionedOpt = False,
    allow: AllowOpt = None,
    join_period: JoinOpt = "1d",
    commit_period: CommitOpt = "1h",
    inclusion_period: InclusionOpt = "30m",
    reveal_period: RevealOpt = "1h",
    finalize_period: FinalizeOpt = "2h",
    challenge_period: ChallengeOpt = "1d",
    open_period: OpenOpt = "1d",
    abort_grace: GraceOpt = "1d",
    stake_cooldown: CooldownOpt = "1d",
    key_env: KeyEnvOpt = "FEDMARKET_SPONSOR_KEY",
) -> None:
    """Store a task spec and create the task, escrowing POOL from the sponsor (the key's owner).

    The schedule's periods take durations (90s, 15m, 2h, 7d); stakes are in token wei.
    """
    from chain import account_from_env, signer_for
    from fl_node.sponsor import create_task
    from fl_node.task import TaskSpec

    periods = {name: value for name, value in locals().items() if name in PERIODS}
    terms = _terms(
        _schedule(periods),
        quorum,
        (participant_stake, coordinator_stake),
        slash_bps,
        (permissioned, allow or []),
        max_participants,
    )
    coordinator = address("--coordinator", coordinator)
    spec = TaskSpec.from_bytes(_read(spec_file, "--spec"))
    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    task_id = create_task(
        dep.fed_task_client(backend, signer),
        dep.token_client(backend, signer),
        plain_store(store),
        spec,
        coordinator=coordinator,
        pool=pool,
        max_participants=max_participants,
        terms=terms,
    )
    out.print(task_id)


def _read(path: Path, flag: str) -> bytes:
    """The bytes of ``path``, or :class:`InvalidInputError` naming ``flag``."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{flag}: cannot read {path}: {exc.strerror}") from None


@task_app.command("invite")
def task_invite(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    task_id: Annotated[int, typer.Option("--task", help="Task id.")],
    participant: Annotated[str, typer.Option(help="The invited account.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the invitation JSON.")],
    valid_for: Annotated[
        str, typer.Option("--valid-for", metavar="DURATION", help="How long it stays valid.")
    ] = "7d",
    key_env: KeyEnvOpt = "FEDMARKET_SPONSOR_KEY",
) -> None:
    """Sign the sponsor's invitation of PARTICIPANT to a permissioned task (EIP-712)."""
    from chain import account_from_env
    from fl_node.sponsor import invite

    seconds = duration("--valid-for", valid_for)
    invited = address("--participant", participant)
    backend, dep = connect_deployment(rpc, deployment)
    deadline = backend.chain_time() + seconds
    signed = invite(
        account_from_env(key_env), dep.fed_task_client(backend), task_id, invited, deadline
    )
    document = {
        "task_id": task_id,
        "participant": invited,
        "deadline": deadline,
        "signature": "0x" + signed.signature.hex(),
    }
    out_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out.print(f"wrote {out_file}: {invited} may join task {task_id} until {deadline}")


@task_app.command("show")
def task_show(
    rpc: RpcOpt, deployment: DeploymentOpt, task_id: Annotated[int, typer.Argument()]
) -> None:
    """Print a task's on-chain state, schedule and rounds as JSON."""
    from dataclasses import asdict

    from fl_node.status import finalized_rounds

    backend, dep = connect_deployment(rpc, deployment)
    client = dep.fed_task_client(backend)
    info = client.task(task_id)
    view = {
        "task_id": task_id,
        "status": info.status.name.lower(),
        "sponsor": info.sponsor,
        "coordinator": info.coordinator,
        "pool_wei": str(info.pool),
        "unallocated_wei": str(info.unallocated),
        "last_round": info.last_round,
        "total_rounds": info.total_rounds,
        "round_open": info.round_open,
        "quorum": info.quorum,
        "participant_stake_wei": str(info.participant_stake),
        "coordinator_stake_wei": str(info.coordinator_stake),
        "slash_bps": info.slash_bps,
        "permissioned": info.permissioned,
        "schedule_seconds": asdict(client.schedule(task_id)),
        "participants": client.participants(task_id),
        "shares_bps": client.shares(task_id),
        "rounds": [r.to_dict() for r in finalized_rounds(client, task_id)],
    }
    out.print_json(json.dumps(view))


@task_app.command("model")
def task_model(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: Annotated[int, typer.Argument()],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the model file.")],
    key_env: Annotated[
        str | None,
        typer.Option(
            "--key-env",
            help="Variable holding your hex key, when the task seals its models to it "
            "(a listed reader: the sponsor, a participant, the audit committee).",
        ),
    ] = None,
) -> None:
    """Write the task's latest finalised model, checked against its on-chain hash.

    A sealed model is opened with the key in --key-env; without a listed key it is exit 5. The
    file is what a sponsor uploads for buyers (the marketplace seals it again for them).
    """
    from chain import account_from_env
    from fl_node.participant import fetch_verified
    from storage.sealed_store import SealedStore

    backend, dep = connect_deployment(rpc, deployment)
    finals = dep.fed_task_client(backend).rounds_finalized(task_id)
    if not finals:
        raise InvalidInputError(f"task {task_id}: no round is finalised yet")
    final = finals[-1]
    account = account_from_env(key_env) if key_env else None
    actor = account.address if account is not None else "reader"
    content = open_store(store, actor=actor, purpose=f"model:task:{task_id}")
    opener = SealedStore(content, key=bytes(account.key) if account is not None else None)
    data = fetch_verified(opener, final.model_cid, final.model_hash, "final model")
    out_file.write_bytes(data)
    view = {
        "task_id": task_id,
        "round": int(final.round),
        "model_cid": final.model_cid,
        "model_hash": "0x" + bytes(final.model_hash).hex(),
        "bytes": len(data),
        "out": str(out_file),
    }
    out.print_json(json.dumps(view))
