"""Running the audit: every finalised round, the task's shares, and a challenge per failed round.

A task that seals its updates is audited in full by an auditor holding a key the spec lists
(``audit_task(..., update_key=...)``). Without one, the checks that need the updates' content
(:data:`UPDATE_CHECKS`) are recorded as not checked, and everything else is still checked.
A task that seals its artifacts too (``sealed_readers``) is audited through a sealed store opened
with that key; an auditor without a key the spec lists learns that every round is there and that
nothing in it could be checked, and nothing is recorded as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chain.fed_task import FedTaskClient, RoundFinalizedEvent
from chain.registry import DatasetRegistryClient
from fl_node.audit._checks import ROUND_CHECKS, RoundCheck
from fl_node.audit._corrections import challenge_of
from fl_node.audit._defence import with_defence
from fl_node.audit._records import RoundInputs, TaskRecord, read_round, read_task
from fl_node.audit._secagg_checks import check_secagg, check_secagg_contribution
from fl_node.audit._utilities import check_utilities
from fl_node.audit.report import AuditReport, RoundAudit
from fl_node.data import LocalDataset
from fl_node.errors import EvidenceError, FlError
from fl_node.evidence import EVIDENCE_VERSION
from fl_node.mailbox import Mailbox
from fl_node.participant import read_spec
from fl_node.payout import contributions_of, cumulative_contributions, shares_record
from fl_node.screening import RoundScreen
from fl_node.validation import SEALED_NO_KEY
from storage import ContentStore
from storage.errors import StoreError
from storage.sealed_store import SealedStore, holder_id, is_sealed_object, sealed_holders
from storage.sealing import public_key_of

log = logging.getLogger(__name__)

VALIDATION_CHECKS: tuple[tuple[str, RoundCheck], ...] = (("utilities", check_utilities),)
"""The checks run after :data:`ROUND_CHECKS` when the auditor holds the validation set."""

_SECAGG_IN_PLACE: dict[str, tuple[str, RoundCheck]] = {
    "updates": ("secagg", check_secagg),
    "contribution": ("contribution", check_secagg_contribution),
}
SECAGG_CHECKS: tuple[tuple[str, RoundCheck], ...] = tuple(
    _SECAGG_IN_PLACE.get(name, (name, check)) for name, check in ROUND_CHECKS if name != "defence"
)
"""A secagg round's checks: ``secagg`` replays the groups in place of ``updates`` (no single
update is revealed), ``contribution`` is over groups, and there is no defence to rerun."""

UPDATE_CHECKS = ("updates", "defence", "aggregation", "utilities")
"""The checks that need the updates' content: not checked when sealed updates cannot be opened."""


def _sealed_shut(inputs: RoundInputs) -> int:
    """How many of the round's sealed updates the auditor had no key to open."""
    return sum(verdict.reason == SEALED_NO_KEY for verdict, _ in inputs.replayed)


def _round_checks(inputs: RoundInputs) -> tuple[tuple[str, RoundCheck], ...]:
    """The checks of a round: :data:`SECAGG_CHECKS` in a secagg task, else :data:`ROUND_CHECKS`."""
    checks = SECAGG_CHECKS if inputs.secagg is not None else ROUND_CHECKS
    return checks + (VALIDATION_CHECKS if inputs.task.validation is not None else ())


def _run_checks(audit: RoundAudit, inputs: RoundInputs, shut: int) -> None:
    """Every round check on readable inputs; those needing shut sealed updates not checked."""
    checks = _round_checks(inputs)
    for name, check in checks:
        if shut and name in UPDATE_CHECKS:
            audit.add_unchecked(name, f"{shut} sealed updates: no key granted to open them")
            continue
        try:
            ok, detail = check(inputs)
        except (LookupError, ValueError, RuntimeError) as exc:  # inputs the check cannot use
            ok, detail = False, f"cannot be recomputed: {type(exc).__name__}: {exc}"
        audit.add(name, ok, detail)


def _audit_round(
    task: TaskRecord,
    store: ContentStore,
    final: RoundFinalizedEvent,
    previous_hash: bytes,
    screen: RoundScreen,
) -> tuple[RoundAudit, RoundInputs | None]:
    """Every check of one finalised round (fewer when its inputs cannot be read)."""
    round_ = int(final.round)
    audit = RoundAudit(round_)
    opening = task.openings.get(round_)
    if opening is None:
        audit.add("model_continuity", False, "no RoundOpened event")
        return audit, None
    continuous = bytes(opening.model_hash) == bytes(previous_hash)
    audit.add(
        "model_continuity",
        continuous,
        "starts from the previous round's model"
        if continuous
        else "the opened model is not the previous round's output",
    )
    try:
        inputs = read_round(task, store, final, screen)
        shut = _sealed_shut(inputs)
        inputs = inputs if shut else with_defence(inputs, store)
    except EvidenceError as exc:
        detail = f"evidence {final.evidence_cid} breaks schema v{EVIDENCE_VERSION}: {exc}"
        audit.add("evidence", False, detail)
        return audit, None
    except (FlError, ValueError, LookupError) as exc:
        audit.add("evidence", False, f"cannot read the round's models or evidence: {exc}")
        return audit, None
    audit.flagged = tuple(inputs.evidence.flagged)
    _run_checks(audit, inputs, shut)
    return audit, inputs


def _check_state_chain(
    audit: RoundAudit, inputs: RoundInputs | None, previous: str | None
) -> str | None:
    """A stateful strategy's round starts from the previous round's server state."""
    state = inputs.evidence.aggregation.state if inputs else None
    if state is None:
        return None
    if previous is not None:
        ok = state.before.hash == previous
        audit.add(
            "server_state",
            ok,
            "starts from the previous round's server state"
            if ok
            else "the server state before the round is not the previous round's after",
        )
    return state.after.hash


def _check_validation_set(inputs: dict[int, RoundInputs | None], audits: list[RoundAudit]) -> None:
    """Every round measures on the validation set the first readable round names.

    The set is private, so only its hash and row count are published; a coordinator that
    changed it between rounds could pick, round by round, the rows that favour someone. A round
    naming another set fails ``validation_set`` (added only where it fails).
    """
    first = next((r.evidence.contribution for r in inputs.values() if r is not None), None)
    if first is None:
        return
    for audit in audits:
        found = inputs.get(audit.round)
        record = found.evidence.contribution if found else None
        if record and (record.validation_data_hash, record.validation_rows) != (
            first.validation_data_hash,
            first.validation_rows,
        ):
            detail = f"measured on {record.validation_rows} rows hashing to "
            detail += f"{record.validation_data_hash}, not the first round's set"
            audit.add("validation_set", False, detail)


def _check_shares(
    task: TaskRecord, inputs: dict[int, RoundInputs | None], last: RoundAudit
) -> None:
    """The last round's shares follow the cumulative contributions of every round's evidence."""
    r = inputs.get(last.round)
    if r is None:
        return
    n = len(task.participants)
    per_round = []
    for k in sorted(inputs):
        found = inputs[k]
        per_round.append(contributions_of([found.evidence])[0] if found else [0.0] * n)
    expected = shares_record(cumulative_contributions(per_round))
    posted = list(task.posted_shares or [])
    ok = r.evidence.shares == expected and posted == list(expected.bps)
    detail = f"{list(expected.bps)} bps"
    last.add("shares", ok, detail if ok else f"published {posted}, recomputed {detail}")


def _prepare_challenges(
    task: TaskRecord,
    store: ContentStore,
    report: AuditReport,
    inputs: dict[int, RoundInputs | None],
) -> None:
    """Compute and store the challenge evidence of every failed round."""
    for audit in report.rounds:
        if not audit.ok:
            audit.challenge = challenge_of(task, audit.round, audit, inputs)
            audit.challenge_cid = store.put_json(audit.challenge.to_dict())


def _audit_rounds(
    task: TaskRecord, store: ContentStore, report: AuditReport
) -> dict[int, RoundInputs | None]:
    """Audit every finalised round in order into ``report``; each round's inputs."""
    screen = RoundScreen(
        tolerance=task.spec.copy_tolerance,
        require_listing=task.spec.require_listing,
        dp=task.spec.screened_dp,
    )
    inputs: dict[int, RoundInputs | None] = {}
    previous_hash = task.initial_hash
    previous_state: str | None = None
    for round_, final in sorted(task.finals.items()):
        audit, inputs[round_] = _audit_round(task, store, final, previous_hash, screen)
        previous_state = _check_state_chain(audit, inputs[round_], previous_state)
        report.rounds.append(audit)
        previous_hash = bytes(final.model_hash)
    return inputs


def _check_sealing(
    raw: ContentStore, holders: Sequence[str], final: RoundFinalizedEvent
) -> tuple[bool, str]:
    """The round's model and evidence are stored sealed for exactly the spec's holders.

    Needs no key: a coordinator that stored one in the clear, or wrapped its key to anyone the
    spec does not list (a friend, a buyer who never paid), fails it.
    """
    wrong = []
    for what, cid in (("model", final.model_cid), ("evidence", final.evidence_cid)):
        try:
            data = raw.get(cid)
            ok = is_sealed_object(data) and sorted(sealed_holders(data)) == sorted(holders)
        except StoreError:
            ok = False
        if not ok:
            wrong.append(what)
    if wrong:
        return False, f"{' and '.join(wrong)} not sealed for exactly the spec's holders"
    return True, f"model and evidence sealed for the spec's {len(holders)} holders"


def _check_rounds_sealed(raw: ContentStore, task: TaskRecord, report: AuditReport) -> None:
    """Add each audited round's ``sealed`` check."""
    for audit in report.rounds:
        final = task.finals[audit.round]
        audit.add("sealed", *_check_sealing(raw, task.spec.artifact_holders, final))


def _sealed_shut_report(fed_task: FedTaskClient, raw: ContentStore, task_id: int) -> AuditReport:
    """The audit of a task whose artifacts are sealed to keys the auditor does not hold."""
    holders = read_spec(fed_task, raw, task_id).artifact_holders
    report = AuditReport(task_id=task_id, rounds=[])
    detail = f"the task's models and evidence are sealed for {len(holders)} keys: no key granted"
    for final in fed_task.rounds_finalized(task_id):
        audit = RoundAudit(int(final.round))
        audit.add_unchecked("evidence", detail)
        audit.add("sealed", *_check_sealing(raw, holders, final))
        report.rounds.append(audit)
    return report


def _artifact_store(
    fed_task: FedTaskClient, store: ContentStore, task_id: int, key: bytes | None
) -> ContentStore | None:
    """The store to audit through (``None``: the task's artifacts are sealed from ``key``).

    The plain store for a task that stores its artifacts in the clear; for one that seals them,
    a store opened with ``key`` when the spec lists it.
    """
    holders = read_spec(fed_task, store, task_id).artifact_holders
    if not holders:
        return store
    if key is None or holder_id(public_key_of(key)) not in holders:
        return None
    return SealedStore(store, holders=holders, key=key)


def audit_task(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    *,
    mailbox: Mailbox | None = None,
    challenges: bool = True,
    validation: LocalDataset | None = None,
    registry: DatasetRegistryClient | None = None,
    update_key: bytes | None = None,
) -> AuditReport:
    """Audit every finalised round of ``task_id``; prepare a challenge of each failed round.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract (read only).
    store : ContentStore
        Where the task's models, updates, batches and evidence live (challenge evidence is
        stored there too).
    task_id : int
        The task.
    mailbox : Mailbox or None, default None
        The commitments' bulletin board, when readable: a genuine signed commitment it received
        before the batch was posted must be in the batch.
    challenges : bool, default True
        Compute and store the challenge evidence of every failed round.
    validation : LocalDataset or None, default None
        The coordinator's validation set, when the auditor holds it: every published coalition
        utility is then re-measured on it (the ``utilities`` check).
    registry : DatasetRegistryClient or None, default None
        The dataset registry whose listings bound the participants' sample counts, as the
        coordinator's do (:mod:`fl_node.screening`); no listing is checked when ``None``.
    update_key : bytes or None, default None
        The auditor's secp256k1 private key, when the spec's ``sealed_updates`` lists its public
        key (the audit committee): it opens the task's sealed updates. Without it their checks
        are recorded as not checked (:data:`UPDATE_CHECKS`). It also opens a task's sealed
        artifacts (``sealed_readers``); without a key they list, no round can be checked.

    Raises
    ------
    FlError
        When the task's spec itself cannot be read and verified (nothing else can be checked).
    """
    opened = _artifact_store(fed_task, store, task_id, update_key)
    if opened is None:
        return _sealed_shut_report(fed_task, store, task_id)
    task = read_task(fed_task, opened, task_id, mailbox, validation, registry, update_key)
    report = AuditReport(task_id=task_id, rounds=[])
    inputs = _audit_rounds(task, opened, report)
    _check_validation_set(inputs, report.rounds)
    if report.rounds and report.rounds[-1].round == int(task.info.total_rounds):
        _check_shares(task, inputs, report.rounds[-1])
    if challenges:
        _prepare_challenges(task, opened, report, inputs)
    if task.spec.artifact_holders:  # after the challenges: sealing changes no payout
        _check_rounds_sealed(store, task, report)
    if report.rounds and not report.ok:
        log.warning("audit_task: task %s has %d failed checks", task_id, len(report.failures))
    return report


__all__ = ["SECAGG_CHECKS", "UPDATE_CHECKS", "VALIDATION_CHECKS", "audit_task"]
