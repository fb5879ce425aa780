"""The roles as processes: ``participant``, ``coordinator``, ``audit``, ``challenge``, ``claim``.

Each runs with its own key (from an environment variable, never argv) against any JSON-RPC chain
and the shared content store. Across processes participants commit directly on-chain (no mailbox
to share); the coordinator waits for each deadline in real time unless told to ``--travel`` (a dev
chain it alone drives).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fedmarket.cli._checks import float_range, int_range
from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    console,
    open_store,
    out,
    plain_store,
)
from fedmarket.cli.errors import EXIT_VERDICT
from kernel.errors import InvalidInputError, OperationTimeoutError

if TYPE_CHECKING:
    from chain import ChainBackend, Deployment
    from chain.commitments import SignedInvitation
    from fl_node.audit import AuditReport
    from fl_node.challenge import ChallengeEvidence
    from fl_node.coordinator import Coordinator, RoundReport
    from storage import ContentStore

TaskIdOpt = Annotated[int, typer.Option("--task", help="Task id.", callback=int_range("--task", 1))]
PollOpt = Annotated[
    float,
    typer.Option(
        "--poll",
        help="Seconds between two looks at the chain.",
        callback=float_range("--poll", 0, low_open=True),
    ),
]


OutageOpt = Annotated[
    float,
    typer.Option(
        "--outage-limit",
        help="Seconds the chain node or the store may stay unreachable (retried with backoff "
        "and jitter meanwhile) before the command gives up with exit 3.",
        callback=float_range("--outage-limit", 0),
    ),
]


def _signer(backend: ChainBackend, key_env: str) -> Any:
    from chain import account_from_env, signer_for

    return signer_for(backend, account_from_env(key_env))


def _read_invitation(path: Path, task_id: int) -> SignedInvitation:
    """The invitation ``task invite`` wrote, checked against ``--task``."""
    from chain.commitments import Invitation, SignedInvitation
    from kernel.types import Address, TaskId

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        invitation = Invitation(TaskId(int(raw["task_id"])), Address(str(raw["participant"])),
                                int(raw["deadline"]))  # fmt: skip
        signature = bytes.fromhex(str(raw["signature"]).removeprefix("0x"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"--invitation: cannot read {path}: {exc}") from None
    if invitation.task_id != task_id:
        raise InvalidInputError(f"--invitation is for task {invitation.task_id}, not {task_id}")
    return SignedInvitation(invitation, signature)


def participant(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: TaskIdOpt,
    data: Annotated[
        Path,
        typer.Option(help="This participant's own data file (any layout the task's schema reads)."),
    ],
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
    join: Annotated[bool, typer.Option(help="Join the task first (with its stake).")] = True,
    invitation: Annotated[
        Path | None,
        typer.Option(help="The sponsor's invitation (`task invite`) to a permissioned task."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(help="Give up after this many seconds.", callback=float_range("--timeout", 0)),
    ] = 3600.0,
    poll: PollOpt = 0.3,
    outage_limit: OutageOpt = 600.0,
) -> None:
    """Run a participant node until the task is settled.

    It trains on DATA in every round, commits its update on-chain, publishes the bytes from the
    reveal start, claims its rewards by proof after each challenge window and withdraws its stake
    once the task ended and the cooldown passed.
    """
    from chain.fed_task import StakeWithdrawnEvent
    from fl_node.participant import ParticipantNode, read_spec

    signed = _read_invitation(invitation, task_id) if invitation is not None else None
    backend, dep = connect_deployment(rpc, deployment)
    signer = _signer(backend, key_env)
    content = open_store(store, actor=signer.address, purpose=f"participant:task:{task_id}")
    fed_task = dep.fed_task_client(backend)
    node = ParticipantNode(
        signer=signer,
        fed_task=fed_task,
        store=content,
        data=read_spec(fed_task, content, task_id).load_data(data),
        court=dep.court_client(backend),
    )
    if join:
        node.ensure_joined(task_id, signed)  # a restarted node resumes where the chain says
    history = node.run(task_id, poll_interval=poll, timeout=timeout, outage_limit=outage_limit)
    withdrawn = fed_task.events(StakeWithdrawnEvent, task_id=task_id, account=signer.address)
    out.print_json(
        json.dumps(
            {
                "participant": signer.address,
                "rounds": [h.round for h in history],
                "commitments": [h.via for h in history],
                "bytes_sent": sum(h.bytes_up for h in history),
                "claimed_wei": str(sum(c.amount for c in node.claims)),
                "claims": [list(c.rounds) for c in node.claims],
                "stake_returned_wei": str(sum(e.amount for e in withdrawn)),
            }
        )
    )


def _wait_for_participants(
    backend: ChainBackend, dep: Deployment, task_id: int, count: int, timeout: float
) -> None:
    """Return once ``count`` participants joined; raise after ``timeout`` seconds."""
    fed_task = dep.fed_task_client(backend)
    deadline = time.monotonic() + timeout
    while len(fed_task.participants(task_id)) < count:
        if time.monotonic() > deadline:
            raise OperationTimeoutError(
                f"coordinator: fewer than {count} participants joined in time"
            )
        time.sleep(0.3)


def coordinator(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: TaskIdOpt,
    validation: Annotated[
        Path, typer.Option(help="The coordinator's validation file (read by the task's schema).")
    ],
    test: Annotated[Path, typer.Option(help="The held-out test file (read by the task's schema).")],
    participants: Annotated[
        int,
        typer.Option(
            help="Wait for this many participants to join.",
            callback=int_range("--participants", 1, 1024),
        ),
    ],
    key_env: KeyEnvOpt = "FEDMARKET_COORDINATOR_KEY",
    join_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for participants.", callback=float_range("--join-timeout", 0)
        ),
    ] = 300.0,
    travel: Annotated[
        bool,
        typer.Option(
            "--travel/--no-travel",
            help="Move a dev chain's clock to each deadline (only one party of a chain may).",
        ),
    ] = False,
    poll: PollOpt = 0.5,
    outage_limit: OutageOpt = 600.0,
) -> None:
    """Run a task's coordinator: stake, open, aggregate, pay, finalise; resumes if restarted."""
    from fl_node.coordinator import Coordinator
    from fl_node.participant import read_spec

    backend, dep = connect_deployment(rpc, deployment)
    if travel and not backend.can_travel:
        raise InvalidInputError(f"--travel: {backend.describe()} is not a dev chain")
    signer = _signer(backend, key_env)
    _wait_for_participants(backend, dep, task_id, participants, join_timeout)
    content = open_store(store, actor=signer.address, purpose=f"coordinator:task:{task_id}")
    fed_task = dep.fed_task_client(backend)
    spec = read_spec(fed_task, content, task_id)
    node = Coordinator(
        signer=signer,
        fed_task=fed_task,
        store=content,
        validation=spec.load_data(validation),
        test=spec.load_data(test),
        travel=travel,
        poll=poll,
        registry=dep.registry_client(backend),
    )
    node.attach(task_id)
    reports = _coordinate(node, task_id, outage_limit)
    out.print_json(json.dumps(_coordinated(task_id, reports)))


TOO_EARLY_LIMIT = 120.0
"""Seconds the coordinator waits for a chain whose clock runs behind its own (``TaskTooEarly``)."""


def _coordinate(node: Coordinator, task_id: int, outage_limit: float) -> list[RoundReport]:
    """Run the task to its end; after an outage, derive the state again and go on.

    A chain node restarted or a store gone away stops the round where it was; once they answer
    again the coordinator attaches afresh (the chain and the store say where the task stands)
    and carries on. An outage longer than ``outage_limit`` seconds ends the command (exit 3).
    A transaction the chain finds too early (its clock behind this host's: a node restarted from
    a state file, a skewed host) is simulated, never sent; it is tried again once the chain's
    time has moved on, for :data:`TOO_EARLY_LIMIT` seconds.
    """
    from chain.errors import ChainRevertError
    from kernel.errors import ServiceUnavailableError
    from kernel.retry import Backoff, Outage

    outage = Outage(limit=outage_limit)
    early = Outage(limit=TOO_EARLY_LIMIT, backoff=Backoff(initial=1.0, max_delay=5.0))
    while True:
        try:
            if outage.started is not None or early.started is not None:
                node.attach(task_id)
                outage.end()
            reports = node.run(on_round=lambda r: console.print(f"round {r.round} finalised"))
            early.end()
            return reports
        except ServiceUnavailableError as exc:
            outage.wait(exc, "the chain node or the store")
        except ChainRevertError as exc:  # the chain's clock behind ours: nothing was sent
            if exc.error_name != "TaskTooEarly":
                raise
            early.wait(exc, "the chain's clock")


def _coordinated(task_id: int, reports: list[RoundReport]) -> dict[str, Any]:
    """What ``coordinator`` prints once the task is settled."""
    final = reports[-1] if reports else None
    return {
        "task_id": task_id,
        "rounds": len(reports),
        "rejected": [
            {"round": r.round, "participant": v.participant, "reason": v.reason}
            for r in reports
            for v in r.rejected
        ],
        "budgets_wei": [str(r.budget) for r in reports],
        "gas_per_round": [r.gas.total for r in reports],
        "shares_bps": list(final.shares.bps) if final and final.shares else [],
        "test": final.test.to_dict() if final else None,
        "model_cid": final.model_cid if final else None,
    }


def _write_challenges(report: AuditReport, path: Path) -> None:
    """The challenge evidence of every failed round, as ``challenge --challenge-file`` reads it."""
    entries = [
        {
            "task_id": report.task_id,
            "round": r.round,
            "evidence_cid": r.challenge_cid,
            "corrected_root": r.challenge.corrected_root,
            "corrected_shares": (
                None if r.challenge.corrected_shares is None else list(r.challenge.corrected_shares)
            ),
            "failed": [c.name for c in r.checks if c.checked and not c.ok],
        }
        for r in report.rounds
        if r.challenge is not None
    ]
    path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")


def audit(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: TaskIdOpt,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    challenge_out: Annotated[
        Path | None,
        typer.Option(
            "--challenge-out",
            metavar="FILE",
            help="Write the challenge evidence of every failed round (stored in the store).",
        ),
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(
            "--validation",
            metavar="FILE",
            help="The coordinator's validation file, if you hold it: re-measure every utility.",
        ),
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option(
            "--key-env",
            help="Variable holding your hex key, if the task seals its updates to it "
            "(audit committee): open and check them. Without it they are reported not checked.",
        ),
    ] = None,
) -> None:
    """Recompute a task round by round from the chain and the store; exit 1 if anything differs."""
    from chain import account_from_env
    from fl_node.audit import audit_task, read_spec

    backend, dep = connect_deployment(rpc, deployment)
    account = account_from_env(key_env) if key_env else None
    actor = account.address if account is not None else "auditor"
    content = open_store(store, actor=actor, purpose=f"audit:task:{task_id}")
    fed_task = dep.fed_task_client(backend)
    rows = read_spec(fed_task, content, task_id).load_data(validation) if validation else None
    registry = dep.registry_client(backend)
    key = bytes(account.key) if account is not None else None
    report = audit_task(
        fed_task, content, task_id, validation=rows, registry=registry, update_key=key
    )
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(_audit_table(report, task_id))
    if challenge_out is not None:
        _write_challenges(report, challenge_out)
    if not report.ok:
        raise typer.Exit(EXIT_VERDICT)


def _audit_table(report: Any, task_id: int) -> Table:
    """The audit report as one table: round, check, result, detail."""
    table = Table(title=f"audit of task {task_id}")
    for column in ("round", "check", "result", "detail"):
        table.add_column(column)
    for r in report.rounds:
        for c in r.checks:
            result = "ok" if c.ok else ("FAILED" if c.checked else "not checked")
            table.add_row(str(r.round), c.name, result, c.detail)
    return table


def _challenge_evidence(
    store: ContentStore, task_id: int, round_: int, evidence_cid: str
) -> ChallengeEvidence:
    """The stored challenge evidence, checked against ``--task`` and ``--round``."""
    from fl_node.challenge import ChallengeEvidence
    from fl_node.errors import ChallengeDocumentError

    try:
        evidence = ChallengeEvidence.from_dict(store.get_json(evidence_cid))
    except (ChallengeDocumentError, LookupError, ValueError) as exc:
        raise InvalidInputError(f"--evidence-cid {evidence_cid}: {exc}") from None
    if (evidence.task_id, evidence.round) != (task_id, round_):
        raise InvalidInputError(
            f"--evidence-cid is about task {evidence.task_id} round {evidence.round}, "
            f"not task {task_id} round {round_}"
        )
    return evidence


def _evidence_cid_from(path: Path, task_id: int, round_: int) -> str:
    """The evidence CID of ``round_`` in a file ``audit --challenge-out`` wrote."""
    from fl_node.errors import NothingToChallengeError

    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        found = [e for e in entries if (e["task_id"], e["round"]) == (task_id, round_)]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"--challenge-file: cannot read {path}: {exc}") from None
    if not found:
        raise NothingToChallengeError(
            f"--challenge-file {path}: the audit found nothing wrong in round {round_}"
        )
    return str(found[0]["evidence_cid"])


def challenge(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: TaskIdOpt,
    round_: Annotated[
        int, typer.Option("--round", help="The round.", callback=int_range("--round", 1))
    ],
    evidence_cid: Annotated[
        str | None, typer.Option("--evidence-cid", help="The audit's challenge evidence.")
    ] = None,
    challenge_file: Annotated[
        Path | None,
        typer.Option("--challenge-file", help="What `audit --challenge-out` wrote (instead)."),
    ] = None,
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
) -> None:
    """Challenge a round before the court: bond, evidence CID and corrected root (a participant)."""
    from fl_node.disputes import challenge_round

    if challenge_file is not None and evidence_cid is None:
        cid = _evidence_cid_from(challenge_file, task_id, round_)
    elif evidence_cid is not None and challenge_file is None:
        cid = evidence_cid
    else:
        raise InvalidInputError("challenge: give --evidence-cid or --challenge-file (one of them)")
    evidence = _challenge_evidence(plain_store(store), task_id, round_, cid)
    backend, dep = connect_deployment(rpc, deployment)
    court = dep.court_client(backend, _signer(backend, key_env))
    challenge_id = challenge_round(court, evidence, cid)
    out.print_json(
        json.dumps(
            {
                "challenge_id": challenge_id,
                "round": round_,
                "evidence_cid": cid,
                "corrected_root": evidence.corrected_root,
            }
        )
    )


def claim(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: TaskIdOpt,
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
) -> None:
    """Claim every round of a task whose reward is due now, by proof, in one transaction."""
    from fl_node.claims import claim_due_now

    backend, dep = connect_deployment(rpc, deployment)
    signer = _signer(backend, key_env)
    claims, _ = claim_due_now(
        dep.fed_task_client(backend, signer),
        plain_store(store),
        task_id,
        court=dep.court_client(backend),
    )
    out.print_json(
        json.dumps(
            {
                "participant": signer.address,
                "claimed_wei": str(sum(int(c.amount) for c in claims)),
                "rounds": [int(c.round) for c in claims],
            }
        )
    )
