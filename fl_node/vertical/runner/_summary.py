"""``summary.json``: the run's document, rendered from its :class:`RunRecord` (private).

The keys and their meaning are a contract with the tests, the docs and ``fedmarket vfl``:
change them only together.
"""

from __future__ import annotations

import os
from typing import Any

from fl_node.vertical.runner.records import PheRecord, RunRecord

FATE_ROW_FEATURES_PER_CORE_SECOND = 100_000 * 330 / (136 * 32)
"""FATE 2.0 coordinated LR: 100,000 x 330 in 2m16s per epoch on 2 x 16 cores."""

BREAKDOWN_NOTE = (
    "seconds per epoch spent in each phase, summed over guest, host and arbiter "
    "(the parties run concurrently, so the sum exceeds the wall time; 'idle' per party "
    "is waiting for a peer). Messaging = encoding, transport after the first byte, "
    "decoding and validation."
)
ROW_FEATURES_DEFINITION = (
    "training rows x total features (guest + host, intercept excluded) x epochs / "
    "(training wall seconds x cores available to the run)"
)
CPU_NOTE = (
    "CPU time of the three party processes during training (load-independent "
    "work measure); row_features_per_cpu_second = training rows x features / "
    "CPU seconds per epoch"
)
GAS_NOTE = (
    "all task transactions (mints, approvals, create, joins, stakes, open, commits, "
    "finalise, claims, remainder and stake withdrawals); contract deployment, gas funding "
    "and the blocks mined to travel in time excluded"
)
CLOCK_NOTE = (
    "travel: the run owned a chain that can move its clock (in-process, anvil, Hardhat) and "
    "travelled past each deadline; wait: it waited for them in real time"
)


def summary_document(record: RunRecord) -> dict[str, Any]:
    """The summary of a finished run (``artifacts`` and the totals are added by the caller).

    Parameters
    ----------
    record : RunRecord
        What the run measured.
    """
    doc = {**_quality(record), **_training(record), **_speed(record)}
    doc.update(
        dataset=record.plan.dataset,
        task_id=record.chain.task_id,
        communication=record.collected.comm.to_dict(),
        shapley=_shapley(record),
        chain=_chain(record),
        rewards=_rewards(record),
        key_bits=record.plan.settings.key_bits,
        machine={"cpus": os.cpu_count(), "load_average_start": list(record.load_average_start)},
    )
    if record.phe is not None:
        doc.update(_phe(record.phe, record.figures.n_train))
    return doc


def _quality(record: RunRecord) -> dict[str, Any]:
    """Headline metrics, cross-validation, the anchored model's holdout, the baseline."""
    head, base, model = record.headline, record.baseline, record.model
    cv = [f.to_dict() for f in record.cv]
    return {
        "metrics": head.metrics,
        "evaluation": head.evaluation,
        "cv": {"folds": record.plan.folds, "per_fold": cv} if cv else None,
        "holdout": {
            "metrics": model.test_metrics,
            "centralized_auc": base.auc,
            "centralized_ks": base.ks,
            "note": "the anchored model, trained on the single split and scored on its test part",
        },
        "validation_metrics": model.val_metrics,
        "centralized_auc": head.centralized_auc,
        "centralized_ks": head.centralized_ks,
        "centralized": base.to_dict(),
        "auc_gap": head.metrics["auc"] - head.centralized_auc,
    }


def _training(record: RunRecord) -> dict[str, Any]:
    """PSI, split, features, configuration and the anchored model's session."""
    psi, figs, comm = record.psi, record.figures, record.collected.comm
    guest = record.model.training.guest.session
    return {
        "psi": {
            "method": psi.method,
            "intersection_size": psi.intersection_size,
            "guest_size": psi.guest_size,
            "host_size": psi.host_size,
            "seconds": psi.seconds,
            "bytes": comm.total(phase="psi")[0],
            "messages": comm.total(phase="psi")[1],
            "commitment": psi.commitment,
        },
        "split": record.model.split.to_dict(),
        "features": {
            "guest": figs.guest_features,
            "host": figs.host_features,
            "total": figs.guest_features + figs.host_features,
        },
        "config": record.plan.config.to_dict(),
        "epochs": guest.epochs,
        "converged": bool(guest.converged),
        "losses": guest.losses,
        "training_seconds": float(guest.seconds),
    }


def _speed(record: RunRecord) -> dict[str, Any]:
    """Seconds per epoch, the phase breakdown, throughput, CPU work and FATE's reference."""
    figs, training = record.figures, record.model.training
    rf = figs.row_features_per_core_second
    n_features = figs.guest_features + figs.host_features
    return {
        "seconds_per_epoch": figs.seconds_per_epoch,
        "breakdown": training.breakdown_total(figs.n_train),
        "breakdown_by_party": training.breakdown(figs.n_train),
        "breakdown_note": BREAKDOWN_NOTE,
        "row_features_per_core_second": rf,
        "row_features_definition": ROW_FEATURES_DEFINITION,
        "cores": figs.cores,
        "cpu_seconds_per_epoch": figs.cpu_seconds_per_epoch,
        "cpu_seconds_per_epoch_by_party": figs.cpu_seconds_per_epoch_by_party,
        "row_features_per_cpu_second": figs.n_train * n_features / figs.cpu_seconds_per_epoch,
        "cpu_note": CPU_NOTE,
        "fate_reference": {
            "ms_per_row_feature_per_core": 0.13,
            "row_features_per_core_second": FATE_ROW_FEATURES_PER_CORE_SECOND,
            "source": "FATE 2.0 coordinated LR, 100,000 x 330 in 2m16s per epoch on 2 x 16 cores",
        },
        "vs_fate": rf / FATE_ROW_FEATURES_PER_CORE_SECOND,
    }


def _shapley(record: RunRecord) -> dict[str, Any]:
    shares = record.contributions
    return {
        "guest": shares.guest,
        "host": shares.host,
        "utilities": shares.utilities,
        "coalitions": {name: c.to_dict() for name, c in shares.coalitions.items()},
        "measured": shares.measured,
    }


def _chain(record: RunRecord) -> dict[str, Any]:
    chain, parts = record.chain, record.collected.parts
    timeline = chain.timeline
    return {
        "backend": chain.backend,
        "chain_id": chain.chain_id,
        "task_id": chain.task_id,
        "protocol": "FedTask v2",
        "psi_commitment": record.psi.commitment,
        "psi_manifest_cid": chain.psi_manifest_cid,
        "model_parts": {
            role: {
                "cid": parts[role].cid,
                "hash": parts[role].hash,
                "samples": parts[role].samples,
                "tx": chain.commits[role],
                "address": chain.addresses[role],
            }
            for role in ("guest", "host")
        },
        "model_manifest_cid": chain.rewards.model_cid,
        "evidence_cid": chain.rewards.evidence_cid,
        "schedule": timeline.schedule,
        "times": timeline.times,
        "clock": timeline.clock,
        "waited_seconds": timeline.waited_seconds,
        "clock_note": CLOCK_NOTE,
        "stakes": {
            "participant_wei": chain.stakes.participant_wei,
            "coordinator_wei": chain.stakes.coordinator_wei,
            "slash_bps": chain.stakes.slash_bps,
            "withdrawn_wei": chain.stakes.withdrawn_wei,
        },
        "transactions": timeline.transactions,
        "gas_by_transaction": timeline.gas,
        "gas_used_total": chain.gas_used,
        "gas_note": GAS_NOTE,
        "contracts": chain.contracts,
    }


def _rewards(record: RunRecord) -> dict[str, Any]:
    rewards = record.chain.rewards
    return {
        "pool_wei": record.chain.pool_wei,
        "paid_wei": rewards.paid_wei,
        "scores": rewards.scores,
        "remainder_wei": rewards.remainder_wei,
        "cap_wei": rewards.cap_wei,
        "budget_wei": rewards.budget_wei,
        "rewards_root": rewards.rewards_root,
        "shares_bps": rewards.shares_bps,
        "claims": {
            address: {"amount_wei": c.amount_wei, "tx": c.tx, "proof": list(c.proof)}
            for address, c in rewards.claims.items()
        },
        "finalize_tx": rewards.finalize_tx,
        "remainder_tx": rewards.remainder_tx,
    }


def _phe(phe: PheRecord, n_train: int) -> dict[str, Any]:
    guest = phe.training.guest.session
    rows = max(1, guest.rows)
    return {
        "phe_seconds_per_epoch": phe.seconds_per_epoch,
        "speed_ratio": phe.speed_ratio,
        "phe": {
            "batches_measured": guest.batches,
            "rows_measured": guest.rows,
            "seconds_measured": float(guest.seconds),
            "extrapolation": "phe seconds per epoch = measured seconds x training rows / rows "
            "measured (every full batch does the same work)",
            "breakdown": phe.training.breakdown_total(n_train),
            "cpu_seconds_per_epoch": phe.training.cpu_seconds() * n_train / rows,
        },
    }


__all__ = ["FATE_ROW_FEATURES_PER_CORE_SECOND", "summary_document"]
