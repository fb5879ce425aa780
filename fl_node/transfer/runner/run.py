"""``run_ftl``: PSI, federated training, baselines, contribution, on-chain record, deliverables.

The parties run in this process (each role an object that sees only its own data and the
messages of :mod:`~fl_node.transfer.messages`, every message serialised through a
:class:`~fl_node.transfer.protocol.Wire`); their chain transactions are sent from their own
keys by the vertical task recorder
(:class:`~fl_node.vertical.runner.onchain.TaskRecorder`), the target in the guest's seat and
the source in the host's:

1. the sponsor creates the task (its spec's hash on chain); the two parties join;
2. the parties find their shared users by DH-OPRF PSI; the coordinator opens round 1 with the
   PSI manifest (commitment and sizes, never ids);
3. the federated training runs; each party commits the keccak hash and CID of its model part
   from its own key;
4. as the auditor, the run also trains the target alone (the target can, with its own data)
   and the two domains pooled (the reference nobody could run in production);
5. two-party Shapley on the target's validation RMSE splits the pool; the coordinator
   finalises with the model manifest and the evidence; the parties claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.events import (
    ChainReady,
    Event,
    EventSink,
    Finished,
    RewardsPaid,
    TaskCreated,
    log_sink,
)
from fl_node.transfer.alignment import Alignment, align
from fl_node.transfer.data import Domain, TargetSplit, load_domains, split_target
from fl_node.transfer.experiment import (
    MethodResult,
    centralised,
    federated,
    global_mean,
    target_only,
)
from fl_node.transfer.protocol import Authenticator, ProtocolRun, Wire
from fl_node.transfer.runner.parts import save_parts
from fl_node.transfer.runner.settings import CONTRIBUTION_RULE, PARTIES, ROLE_OF, FtlSettings
from fl_node.vertical.runner.jobs import PartRecord
from fl_node.vertical.runner.onchain import RewardsRecord, TaskRecorder

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment

log = logging.getLogger(__name__)

DATASETS = {"xwines": "xwines_slim"}
"""``--dataset`` name -> registry entry."""


@dataclass(frozen=True)
class SharedUsersFound(Event):
    """The PSI is done."""

    shared: int
    target_users: int
    source_users: int
    seconds: float


@dataclass(frozen=True)
class ModelTrained(Event):
    """One method finished training."""

    method: str
    steps: int
    test_rmse: float
    seconds: float


@dataclass(frozen=True)
class Contributions:
    """The utilities of the four coalitions and the two Shapley values."""

    utilities: dict[str, float]
    target: float
    source: float


@dataclass(frozen=True)
class FtlRecord:
    """Everything the run did, for the summary and the deliverables."""

    dataset: str
    out: Path
    settings: FtlSettings
    target: Domain
    source: Domain
    alignment: Alignment
    methods: dict[str, MethodResult]
    run: ProtocolRun
    parts: dict[str, PartRecord]
    commits: dict[str, str]
    contributions: Contributions
    rewards: RewardsRecord
    recorder: TaskRecorder
    round_cid: str


def run_ftl(
    dataset: str,
    out: Path,
    *,
    settings: FtlSettings | None = None,
    rpc_url: str | None = None,
    deployment: Deployment | None = None,
    keys: Mapping[str, LocalAccount] | None = None,
    backend: ChainBackend | None = None,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """Run the whole FTL task and write ``summary.json`` and the deliverables into ``out``.

    Parameters
    ----------
    dataset : {"xwines"}
        The dataset.
    out : Path
        Output folder (created).
    settings : FtlSettings or None, default None
        Hyperparameters, seed, subset, pool and chain terms.
    rpc_url : str or None, default None
        JSON-RPC chain URL; an in-process chain when ``None`` (ignored given ``backend``).
    deployment : Deployment or None, default None
        Existing contracts; ``None`` deploys fresh ones.
    keys : mapping of str to LocalAccount or None, default None
        Funded keys of ``sponsor``, ``coordinator``, ``guest`` (target), ``host`` (source).
    backend : ChainBackend or None, default None
        A chain backend to use instead of connecting to ``rpc_url``.
    on_event : EventSink or None, default None
        Receives typed progress events.

    Returns
    -------
    dict
        The summary, also written to ``out/summary.json``.
    """
    from chain import connect
    from fl_node.transfer.errors import TransferInputError
    from fl_node.transfer.runner.deliverables import write_outputs

    if dataset not in DATASETS:
        raise TransferInputError(
            f"run_ftl: unknown dataset {dataset!r} (known: {sorted(DATASETS)})"
        )
    started, emit = time.perf_counter(), on_event or log_sink
    settings = settings or FtlSettings()
    out.mkdir(parents=True, exist_ok=True)
    recorder = TaskRecorder.provision(
        out / "store",
        backend=backend or connect(rpc_url),
        deployment=deployment,
        keys=keys,
        owns_chain=settings.owns_chain,
        emit=emit,
    )
    record = _record(dataset, out, settings, recorder, emit)
    summary = write_outputs(record, time.perf_counter() - started)
    emit(Finished(summary_path=str(out / "summary.json"), seconds=summary["seconds_total"]))
    return summary


def _record(
    dataset: str, out: Path, settings: FtlSettings, recorder: TaskRecorder, emit: EventSink
) -> FtlRecord:
    """Every step from the task's creation to the settled round."""
    p = recorder.parties
    emit(ChainReady(backend=p.backend.describe(), fed_task=p.deployment.fed_task))
    task_id = recorder.create_task(settings.task_spec(dataset), settings.terms())
    emit(TaskCreated(task_id=task_id, pool_wei=settings.pool_wei, rounds=1))
    target, source = load_domains(
        settings.data_dir, max_users=settings.max_users, seed=settings.seed
    )
    alignment = align(target.user_ids, source.user_ids, workers=settings.workers)
    emit(
        SharedUsersFound(
            len(alignment.shared_ids),
            alignment.target_size,
            alignment.source_size,
            alignment.seconds,
        )
    )
    round_cid = recorder.open_round(alignment.manifest(task_id))
    split = split_target(target.ratings, settings.seed)
    context = task_id.to_bytes(32, "big") + bytes.fromhex(alignment.commitment[2:])
    methods, run = _train(
        target, split, source, alignment, settings, context, authenticators(recorder), emit
    )
    parts = save_parts(run, out)
    commits = {name: recorder.commit_part(ROLE_OF[name], parts[name]) for name in PARTIES}
    shares = contributions(methods)
    rewards = _finalize(recorder, alignment, methods, parts, shares)
    emit(RewardsPaid(task_id, rewards.paid_wei, rewards.remainder_wei))
    return FtlRecord(
        dataset,
        out,
        settings,
        target,
        source,
        alignment,
        methods,
        run,
        parts,
        commits,
        shares,
        rewards,
        recorder,
        round_cid,
    )


def _train(
    target: Domain,
    split: TargetSplit,
    source: Domain,
    alignment: Alignment,
    settings: FtlSettings,
    context: bytes,
    auth: Mapping[str, Authenticator],
    emit: EventSink,
) -> tuple[dict[str, MethodResult], ProtocolRun]:
    """The federated run, then the auditor's references: target only, centralised pooled."""
    config, seed = settings.config, settings.seed
    fed, run = federated(
        target,
        split,
        source,
        alignment.shared_ids,
        config,
        seed,
        wire=Wire(),
        context=context,
        auth=auth,
    )
    methods = {
        "global_mean": global_mean(split),
        "target_only": target_only(target, split, config, seed),
        "centralised": centralised(target, split, source, config, seed),
        "federated": fed,
    }
    for m in ("federated", "target_only", "centralised"):
        r = methods[m]
        emit(ModelTrained(m, r.steps, r.rmse, r.seconds))
    return methods, run


def authenticators(recorder: TaskRecorder) -> dict[str, Authenticator]:
    """Each party's signer of its mask key, checking the other's against the chain's roles."""
    from fl_node.transfer.identity import EthKeyAuthenticator

    addresses = {name: recorder.address(ROLE_OF[name]) for name in PARTIES}
    accounts = recorder.parties.accounts
    return {name: EthKeyAuthenticator(accounts[ROLE_OF[name]], addresses) for name in PARTIES}


def contributions(methods: Mapping[str, MethodResult]) -> Contributions:
    """Exact two-party Shapley (players 0 = target, 1 = source) on :data:`CONTRIBUTION_RULE`."""
    from incentives.contribution import ExactShapley

    floor = methods["global_mean"].valid_rmse
    utilities = {
        "": 0.0,
        "0": floor - methods["target_only"].valid_rmse,
        "1": 0.0,
        "0,1": floor - methods["federated"].valid_rmse,
    }

    def utility(coalition: frozenset[int]) -> float:
        return utilities[",".join(str(i) for i in sorted(coalition))]

    target, source = ExactShapley().estimate(2, utility).scores
    return Contributions(utilities, float(target), float(source))


def _finalize(
    recorder: TaskRecorder,
    alignment: Alignment,
    methods: Mapping[str, MethodResult],
    parts: Mapping[str, PartRecord],
    shares: Contributions,
) -> RewardsRecord:
    """Plan the rewards by Shapley, finalise with the manifest and evidence, claim, settle."""
    task_id = recorder.task_id
    plan = recorder.plan_rewards([shares.target, shares.source])
    described = {
        name: {"cid": part.cid, "hash": part.hash, "bytes": part.bytes}
        | ({"address": recorder.address(ROLE_OF[name])} if name in ROLE_OF else {})
        for name, part in parts.items()
    }
    manifest = {
        "kind": "federated-transfer-mf-model",
        "task_id": task_id,
        "parts": described,
        "predict": "r_hat = mu_target + b_u + b_i + <p_u, q_i>, clipped to [1, 5]; p_u, b_u from "
        "the shared block for PSI-shared users, else the target's local rows",
        "psi_commitment": alignment.commitment,
    }
    evidence = {
        "kind": "ftl-shapley-evidence",
        "version": 1,
        "task_id": task_id,
        "players": {"0": recorder.address("guest"), "1": recorder.address("host")},
        "roles": {"0": "target", "1": "source"},
        "utility": CONTRIBUTION_RULE,
        "utilities": shares.utilities,
        "shapley": {"target": shares.target, "source": shares.source},
        "metrics": {
            m: {"mae": r.mae, "rmse": r.rmse, "valid_rmse": r.valid_rmse}
            for m, r in methods.items()
        },
        "psi_commitment": alignment.commitment,
        "rewards": plan.evidence(),
    }
    return recorder.finalize(manifest, evidence, plan)


__all__ = [
    "DATASETS",
    "Contributions",
    "FtlRecord",
    "ModelTrained",
    "SharedUsersFound",
    "contributions",
    "run_ftl",
]
