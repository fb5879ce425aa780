"""Auditing a task from nothing but the chain and the content store, and preparing challenges.

Anyone holding the deployment address and read access to the store can recompute what happened,
round by round, and check it against what the chain recorded (protocol v2):

- ``model_continuity``: each round starts from the previous round's final model (round 1 from the
  spec's deterministic initial model), and every model's bytes match their on-chain hash;
- ``evidence``: the round's evidence file is intact, follows the round-evidence schema
  (:mod:`fl_node.evidence`; a file that does not is a failed check naming the field) and
  describes this task, round, participants, models, accepted count and flags as finalised;
- ``commitments``: the batch document hashes to the root the chain anchors, every leaf is signed
  by its participant (a participant of the task), no genuine signed commitment the mailbox
  received in time was left out (when the auditor can read the mailbox), and the evidence's
  commitments are the batch's leaves superseded by the direct commitments of the events;
- ``updates``: every verdict is what the coordinator's own checks give on the revealed bytes
  (bytes matching the commitment, sample count, author, base model, shapes, finite values),
  then the task's screening against every earlier round the audit replayed and the registry's
  listings (:mod:`fl_node.screening`: empty updates, replays, changed or inflated sample
  counts); each reason of :data:`fl_node.evidence.REJECTION_REASONS` is recomputed, none
  taken on trust;
- ``defence``: the task's robust aggregation rule (its ``defence``, if any), rerun on the updates
  the audit's own checks accepted with the root update and signed ballots the evidence publishes,
  gives every published decision (weight, reason, score, flag); its ``robust_outlier`` verdicts
  are checked by ``updates`` like every other reason (:mod:`fl_node.audit._defence`);
- ``aggregation``: re-running the task's strategy on the accepted updates (through the defence's
  robust delta when there is one) reproduces the new model;
- ``contribution``: the estimator is the one the spec names, and the recorded scores are what
  rerunning it on the recorded utilities gives (:mod:`fl_node.audit._scores`, the one place
  scores are recomputed);
- ``rewards``: the cap recomputed from the task's events, the budget within it, the scores and
  amounts following the contributions, the leaves summing to the budget and hashing to the root
  the chain holds, the flags those the verdicts justify;
- ``secagg`` (tasks with ``aggregation: "secagg"``, in place of ``updates`` and ``defence``):
  the groups are the round's public partition, every group's transcript (by the CID the evidence
  names) replays to its recorded sum and survivors, its masked inputs are the bytes committed
  on-chain, no member that committed and revealed its masked input is left out, and only the
  survivors of completed groups are accepted; ``aggregation``, ``utilities`` and ``rewards`` then
  run over the replayed groups' mean updates and ``contribution`` checks the group scores and
  their equal split (:mod:`fl_node.audit._secagg_checks`);
- ``shares`` (last round): the contributors' shares follow their cumulative contributions;
- ``validation_set`` (only where it fails): the round measured on another validation set (hash,
  rows) than the first round.

For every round that fails, the audit computes from the published evidence what the round should
have paid (:mod:`fl_node.audit._corrections`) and stores a
:class:`~fl_node.challenge.ChallengeEvidence` in the content store, ready for
``ChallengeCourt.challenge``. The coordinator's validation data stays private, so by default
utilities are checked for consistency, not re-measured; an auditor that holds the validation set
(``audit_task(..., validation=...)``) also runs ``utilities``: every published coalition utility
is re-measured on it (:mod:`fl_node.audit._utilities`).

A task that seals its updates (:mod:`fl_node.sealed`) is checked in full by an auditor whose key
the spec lists (``audit_task(..., update_key=...)``, ``fedmarket audit --key-env``). Without one,
the checks that need the updates' content (:data:`UPDATE_CHECKS`) are reported as not checked
(:attr:`Check.checked` false; no failure, no challenge), everything else as usual.

Public surface::

    audit_task(fed_task, store, task_id, *, mailbox, challenges, validation, registry,
               update_key) -> AuditReport
    AuditReport, RoundAudit, Check, ROUND_CHECKS, SECAGG_CHECKS, VALIDATION_CHECKS, UPDATE_CHECKS
    AuditFailedError                                 # for callers whose own audit must pass
    read_spec(fed_task, store, task_id) -> TaskSpec  # the spec, checked against the chain
    uphold_bps(report, challenge_info) -> int        # a validator's vote from its own audit
"""

from fl_node.audit._checks import AGGREGATION_TOLERANCE, ROUND_CHECKS
from fl_node.audit._records import read_spec
from fl_node.audit.report import AuditFailedError, AuditReport, Check, RoundAudit
from fl_node.audit.run import SECAGG_CHECKS, UPDATE_CHECKS, VALIDATION_CHECKS, audit_task
from fl_node.audit.verdict import uphold_bps

__all__ = [
    "AGGREGATION_TOLERANCE",
    "ROUND_CHECKS",
    "SECAGG_CHECKS",
    "UPDATE_CHECKS",
    "VALIDATION_CHECKS",
    "AuditFailedError",
    "AuditReport",
    "Check",
    "RoundAudit",
    "audit_task",
    "read_spec",
    "uphold_bps",
]
