"""``run_vfl``: the whole vertical-FL flow with the three parties as separate OS processes.

The orchestrator (this module, in the calling process) starts the guest, the host and the
arbiter as ``spawn``-ed processes, each given only its own TLS identity and its own CSV
file; they connect to each other over mutual TLS on 127.0.0.1 and run, in order:

1. DH-OPRF PSI between guest and host (ids never leave their owner in the clear);
2. for small datasets, a stratified cross-validation, each fold trained end to end;
3. the guest's train / validation / test split, sent as positions;
4. hetero-LR training with our Paillier (the anchored model), then the guest-only and
   host-only models through the same protocol (feature-group Shapley utilities), and
   optionally the same protocol with python-paillier on a few batches (``compare_phe``);
5. federated prediction on the validation and test rows.

The orchestrator also plays the auditor for the centralised baseline (it reads both CSVs,
joins them and fits scikit-learn's logistic regression on the same split) and submits each
party's chain transactions with that party's own key
(:class:`~fl_node.vertical.runner.onchain.TaskRecorder`): the task is created before the
parties start, round 1 opens once the PSI is done, each party commits its part of the
anchored model as soon as it is saved, and the round is finalised, claimed and settled at
the end. It writes ``summary.json`` and the deliverables into ``out``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.events import EventSink, Finished, log_sink
from fl_node.vertical.runner import _results as results
from fl_node.vertical.runner import _steps as steps
from fl_node.vertical.runner._summary import summary_document
from fl_node.vertical.runner.inputs import VflTables
from fl_node.vertical.runner.onchain import TaskRecorder
from fl_node.vertical.runner.records import RunRecord
from fl_node.vertical.runner.settings import RunPlan, VflSettings

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment

log = logging.getLogger(__name__)


def run_vfl(
    dataset: str | VflTables,
    out: Path,
    *,
    settings: VflSettings | None = None,
    rpc_url: str | None = None,
    deployment: Deployment | None = None,
    keys: Mapping[str, LocalAccount] | None = None,
    backend: ChainBackend | None = None,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """Run PSI, encrypted training, evaluation, Shapley and the on-chain record.

    Parameters
    ----------
    dataset : {"default-credit", "breast"} or VflTables
        A FATE hetero dataset, or the user's own tables (:mod:`.tables_run`).
    out : Path
        Output folder (created): ``summary.json``, model parts, log, curve, report.
    settings : VflSettings or None, default None
        Everything else the run does (epochs, seed, keys size, folds, phe comparison...).
    rpc_url : str or None, default None
        JSON-RPC chain URL; an in-process chain when ``None`` (ignored given ``backend``).
    deployment : Deployment or None, default None
        Existing contracts to record the task on; ``None`` deploys fresh ones from the
        chain's faucet (deadlines: see ``VflSettings.owns_chain``).
    keys : mapping of str to LocalAccount or None, default None
        Funded keys of ``sponsor``, ``coordinator``, ``guest``, ``host`` (any subset); the
        others get fresh keys funded from the faucet.
    backend : ChainBackend or None, default None
        A chain backend to use instead of connecting to ``rpc_url``.
    on_event : EventSink or None, default None
        Receives typed progress events (default: logged at DEBUG).

    Returns
    -------
    dict
        The summary, also written to ``out/summary.json``.

    Notes
    -----
    The parties are started with the ``spawn`` method, which re-imports the caller's main
    module in each of them: a script calling this function must do so under
    ``if __name__ == "__main__":`` (console entry points and ``python -m`` already do).
    """
    from chain import connect

    emit = on_event or log_sink
    if isinstance(dataset, VflTables):  # the user's own tables: preflight, SecureBoost, N hosts
        run = _tables_runner(dataset, Path(out), settings or VflSettings())
        return run(lambda: backend or connect(rpc_url), deployment, keys, emit)
    started, load = time.perf_counter(), os.getloadavg()
    plan = (settings or VflSettings()).plan(dataset, out)
    recorder = _provision(plan, backend or connect(rpc_url), deployment, keys, emit)
    summary = _write(_record(plan, recorder, emit, load), started)
    emit(Finished(summary_path=str(plan.out / "summary.json"), seconds=summary["seconds_total"]))
    return summary


def _provision(
    plan: RunPlan,
    backend: ChainBackend,
    deployment: Deployment | None,
    keys: Mapping[str, LocalAccount] | None,
    emit: EventSink,
) -> TaskRecorder:
    """The task's signers (guest and host) on the deployment, or on fresh contracts."""
    owns, store = plan.settings.owns_chain, plan.out / "store"
    return TaskRecorder.provision(
        store, backend=backend, deployment=deployment, keys=keys, owns_chain=owns, emit=emit
    )


def _tables_runner(
    tables: VflTables, out: Path, settings: VflSettings
) -> Callable[..., dict[str, Any]]:
    """The run on a user's tables, checked and planned, waiting for its chain."""
    from fl_node.vertical.runner._tables_summary import ChainOptions, run_tables
    from fl_node.vertical.runner.tables_run import plan_tables

    plan = plan_tables(tables, settings, out)

    def run(
        connect: Callable[[], ChainBackend],
        deployment: Deployment | None,
        keys: Mapping[str, LocalAccount] | None,
        emit: EventSink,
    ) -> dict[str, Any]:
        return run_tables(plan, connect, ChainOptions(deployment, keys), emit)

    return run


def _record(
    plan: RunPlan, recorder: TaskRecorder, emit: EventSink, load: tuple[float, float, float]
) -> RunRecord:
    """Every step from the task's creation to the on-chain record, as one typed record."""
    steps.create_task(plan, recorder, emit)
    with steps.start_parties(plan) as procs:
        psi = steps.run_psi(procs, plan, emit)
        round_cid = recorder.open_round(psi.manifest(recorder.task_id))
        cv = steps.cross_validate(procs, plan, emit)
        model = steps.train_model(procs, plan, emit)
        parts = results.save_parts(procs, plan)
        commits = results.commit_parts(recorder, parts)
        utilities, coalitions = steps.train_coalitions(procs, plan, model, emit)
        phe = steps.compare_phe(procs, plan, emit)
        collected = results.collect(procs, parts)
    base = results.baseline(plan, model, emit)
    shares = results.contributions(utilities, coalitions, plan.settings.shapley)
    chain = results.record_on_chain(
        recorder,
        psi,
        model,
        cv,
        shares,
        collected,
        commits=commits,
        round_cid=round_cid,
        emit=emit,
    )
    figures = results.figures(model, collected.parts)
    return RunRecord(
        plan=plan,
        psi=psi,
        cv=cv,
        model=model,
        baseline=base,
        contributions=shares,
        collected=collected,
        chain=chain,
        headline=results.headline(plan, cv, model, base),
        figures=figures,
        phe=results.phe_record(phe, figures, emit),
        load_average_start=load,
    )


def _write(record: RunRecord, started: float) -> dict[str, Any]:
    """Render ``summary.json`` and the deliverables; return the summary."""
    # Imported here, not at the top: fl_node.reporting imports torch, and every spawned party
    # process imports this package (5 s each instead of 1 s on a 2-core machine).
    from fl_node.reporting.common import dump_json
    from fl_node.vertical.runner._deliverables import write_deliverables
    from storage import canonical_json

    summary = summary_document(record)
    summary["machine"]["load_average_end"] = list(os.getloadavg())
    summary["seconds_total"] = time.perf_counter() - started
    summary["artifacts"] = write_deliverables(record)
    canonical_json(summary)  # refuses NaN / infinities before anything is written
    dump_json(summary, record.plan.out / "summary.json")
    return summary
