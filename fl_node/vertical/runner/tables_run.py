"""``run_vfl`` on a user's own tables: preflight, N-host PSI, SecureBoost, Shapley, chain.

The parties are spawned processes, the guest and ``host-1``..``host-N``, each given only its
own TLS identity and its own CSV (:class:`~fl_node.vertical.runner.inputs.TableSource`);
SecureBoost needs no arbiter (the guest holds the Paillier key). In order:

1. **preflight**: each party reads its file and reports summaries under the agreed id rules;
   the orchestrator compares them and stops the run (exit 2, the findings and the suggested
   rule) before any chain transaction;
2. each party normalises its ids and fits the agreed preparation on its own rows;
3. the task is created on chain (the spec records the algorithm, the schemas, the id and
   preparation rules' canonical texts and SHA-256) and every party joins with its own key;
4. the guest runs the PSI with each host and every party keeps the rows all share (one
   commitment, opened on chain as round 1's PSI manifest);
5. stratified k-fold cross-validation, each fold trained end to end and scored by federated
   prediction on its held-out rows; the orchestrator, as auditor, scores the centralised
   twin (:func:`~fl_node.vertical.protocol.boost.fit_twin`) on the same folds;
6. the anchored model on a train / validation / test split; each party saves and commits its
   part; a model per coalition of the guest with a subset of the hosts (validation AUC) gives
   the Shapley value of every party (a coalition without the guest, which holds the labels,
   is worth 0.5); the round is finalised, claimed and settled with one participant per party.

No row is dropped: ``VflSettings.drop_fraction`` is not applied to a user's tables.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fl_node.events import EventSink
from fl_node.vertical.data import SplitIndices
from fl_node.vertical.protocol.boost import BoostConfig
from fl_node.vertical.runner._errors import InconsistentResultError
from fl_node.vertical.runner._process import PartyProcesses, PartySpec
from fl_node.vertical.runner.events import PsiDone, TrainingFinished
from fl_node.vertical.runner.inputs import VflTables
from fl_node.vertical.runner.jobs import (
    AlignJob,
    BoostOutcome,
    BoostPredictJob,
    BoostTrainJob,
    PartRecord,
    PartyStats,
    PredictOutcome,
    PreflightJob,
    PreparedOutcome,
    PrepareJob,
    PsiOutcome,
    ReportOutcome,
    SaveJob,
    SplitJob,
    SplitOutcome,
    StatsJob,
)
from fl_node.vertical.runner.onchain import TOKEN, TaskRecorder, TaskTerms
from fl_node.vertical.runner.settings import VflSettings, check_party_timeout
from fl_node.vertical.tables import Preflight, compare_reports, overlap_findings
from fl_node.vertical.transport import CommStats, make_credentials

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

DEFAULT_TABLE_FOLDS = 5
"""Cross-validation folds on a user's tables (a few thousand rows: one split is too noisy)."""


@dataclass(frozen=True)
class TablesPlan:
    """A user's tables resolved with the run's settings.

    Attributes
    ----------
    tables : VflTables
        The input.
    out : Path
        Output folder (exists).
    settings : VflSettings
        What was asked.
    config : BoostConfig
        SecureBoost's hyper-parameters with the run's key size.
    folds : int
        Cross-validation folds (1: none).
    """

    tables: VflTables
    out: Path
    settings: VflSettings
    config: BoostConfig
    folds: int

    @property
    def roles(self) -> tuple[str, ...]:
        """The party processes: the guest and each host."""
        return ("guest", *self.tables.host_roles)

    def terms(self) -> TaskTerms:
        """Pool, schedule, stakes, slash share; one participant per party."""
        s = self.settings
        return TaskTerms(
            pool=s.pool_tokens * TOKEN,
            schedule=s.schedule,
            participant_stake=s.participant_stake_tokens * TOKEN,
            coordinator_stake=s.coordinator_stake_tokens * TOKEN,
            slash_bps=s.slash_bps,
            data_roles=self.roles,
        )

    def task_spec(self) -> dict[str, object]:
        """The task spec stored in the content store (its hash goes on chain)."""
        return {
            "kind": "vertical-secureboost",
            **self.tables.spec(),
            "protocol": "SecureBoost: the guest encrypts packed (g, h) with its Paillier key, "
            "hosts build encrypted histograms, the guest splits, hosts keep their thresholds; "
            "federated prediction (FATE SecureBoost, no arbiter)",
            "psi": "ecdh-oprf-secp256k1, guest with each host, rows shared by every party",
            "config": _config_dict(self.config),
            "contribution": "Shapley per party over feature groups (validation AUC of the "
            "model of the guest with each subset of hosts; without the guest 0.5)",
        }


def plan_tables(tables: VflTables, settings: VflSettings, out: Path) -> TablesPlan:
    """Check the input and the settings; create ``out``.

    Raises
    ------
    VflInputError
        No host, a missing file, LR with several hosts, terms or timeout out of range.
    """
    tables.check()
    settings._check_terms()
    check_party_timeout(settings.party_timeout_s)
    config = replace(tables.boost, key_bits=settings.key_bits)
    folds = DEFAULT_TABLE_FOLDS if settings.cv_folds is None else settings.cv_folds
    Path(out).mkdir(parents=True, exist_ok=True)
    return TablesPlan(tables, Path(out), settings, config, folds)


def _config_dict(config: BoostConfig) -> dict[str, object]:
    from dataclasses import asdict

    return dict(asdict(config))


def start_table_parties(plan: TablesPlan) -> PartyProcesses:
    """The guest's and the hosts' processes, each with its own identity and file."""
    roles = plan.roles
    creds = make_credentials(list(roles))
    specs = {
        source.party: PartySpec(
            role=source.party,
            creds=creds[source.party],
            table=source,
            seed=plan.settings.seed,
            timeout=plan.settings.party_timeout_s,
            peers=tuple(r for r in roles if r != source.party)
            if source.party == "guest"
            else ("guest",),
        )
        for source in plan.tables.sources
    }
    return PartyProcesses(specs)


def preflight(procs: PartyProcesses, plan: TablesPlan) -> Preflight:
    """Each party's report (computed in its process); stop on an error, before the chain.

    Raises
    ------
    PreflightError
        The findings and the suggested id rule (an invalid-input error: exit 2).
    """
    job = PreflightJob(plan.tables.id_rules.canonical())
    reports = procs.run(dict.fromkeys(plan.roles, job), ReportOutcome)
    result = compare_reports(reports["guest"].report, [reports[h].report for h in plan.roles[1:]])
    result.raise_for_errors()
    for finding in result.findings:
        log.info("preflight: %s: %s: %s", finding.severity, finding.party, finding.message)
    return result


def prepare(procs: PartyProcesses, plan: TablesPlan) -> dict[str, PreparedOutcome]:
    """Every party normalises its ids and encodes its columns with the agreed rules."""
    t = plan.tables
    job = PrepareJob(t.id_rules.canonical(), t.prep.canonical())
    return procs.run(dict.fromkeys(plan.roles, job), PreparedOutcome)


def align(
    procs: PartyProcesses, plan: TablesPlan, checked: Preflight, emit: EventSink
) -> dict[str, PsiOutcome]:
    """The N-host PSI; every party must commit to the same rows, and enough of them."""
    job = AlignJob(plan.tables.host_roles, workers=plan.settings.workers)
    psi = procs.run(dict.fromkeys(plan.roles, job), PsiOutcome)
    if len({o.commitment for o in psi.values()}) != 1:
        raise InconsistentResultError("the parties committed to different intersections")
    guest = psi["guest"]
    emit(PsiDone(guest.method, guest.intersection_size, guest.seconds))
    return psi


def overlap_check(procs: PartyProcesses, plan: TablesPlan, shared: int) -> None:
    """Refuse a small intersection, naming the id formats (from fresh reports)."""
    from fl_node.vertical.tables import PreflightError

    job = PreflightJob(plan.tables.id_rules.canonical())
    reports = procs.run(dict.fromkeys(plan.roles, job), ReportOutcome)
    findings = []
    for host in plan.roles[1:]:
        findings += overlap_findings(reports["guest"].report, reports[host].report, shared)
    if findings:
        raise PreflightError("\n".join(f"error: {f.party}: {f.message}" for f in findings))


@dataclass(frozen=True)
class BoostFold:
    """One cross-validation fold: its split, the federated metrics, the twin's AUC."""

    fold: int
    split: SplitIndices
    metrics: dict[str, float]
    session: BoostOutcome


def _split(procs: PartyProcesses, plan: TablesPlan, job: SplitJob) -> SplitIndices:
    jobs = dict.fromkeys(plan.roles, job)
    return procs.run(jobs, SplitOutcome)["guest"].split


def _train(
    procs: PartyProcesses, plan: TablesPlan, name: str, hosts: tuple[str, ...], keep: bool = True
) -> BoostOutcome:
    job = BoostTrainJob(name, plan.config, hosts, keep=keep)
    return procs.run(dict.fromkeys(("guest", *hosts), job), BoostOutcome)["guest"]


def _predict(
    procs: PartyProcesses, name: str, hosts: tuple[str, ...], part: str
) -> dict[str, float]:
    job = BoostPredictJob(name, "test" if part == "test" else "validation")
    metrics = procs.run(dict.fromkeys(("guest", *hosts), job), PredictOutcome)["guest"].metrics
    assert metrics is not None
    return metrics


def cross_validate(procs: PartyProcesses, plan: TablesPlan, emit: EventSink) -> list[BoostFold]:
    """Each fold trained end to end with every host and scored on its held-out rows."""
    hosts, seed = plan.tables.host_roles, plan.settings.seed
    out = []
    for fold in range(plan.folds if plan.folds > 1 else 0):
        split = _split(procs, plan, SplitJob(0.0, 0.0, seed=seed, folds=plan.folds, fold=fold))
        name = f"cv-{fold}"
        session = _train(procs, plan, name, hosts)
        metrics = _predict(procs, name, hosts, "test")
        emit(TrainingFinished(name, session.trees, session.seconds, test_auc=metrics["auc"]))
        out.append(BoostFold(fold, split, metrics, session))
    return out


@dataclass(frozen=True)
class Anchored:
    """The anchored model: split, session, metrics, saved parts, coalition utilities."""

    split: SplitIndices
    session: BoostOutcome
    test_metrics: dict[str, float]
    val_metrics: dict[str, float]
    parts: dict[str, PartRecord]
    utilities: dict[str, float]


def _key(members: Sequence[int]) -> str:
    return ",".join(str(i) for i in sorted(members))


def anchored_model(
    procs: PartyProcesses, plan: TablesPlan, recorder: TaskRecorder, emit: EventSink
) -> tuple[Anchored, dict[str, str]]:
    """Train, score, save and commit the anchored model; measure every coalition."""
    hosts, seed = plan.tables.host_roles, plan.settings.seed
    split = _split(procs, plan, SplitJob(0.0, 0.1, 0.2, seed=seed))
    session = _train(procs, plan, "full", hosts)
    test_metrics = _predict(procs, "full", hosts, "test")
    val_metrics = _predict(procs, "full", hosts, "validation")
    emit(TrainingFinished("full", session.trees, session.seconds, test_auc=test_metrics["auc"]))
    saves = {role: SaveJob("full", str(plan.out / role)) for role in plan.roles}
    parts = procs.run(saves, PartRecord)
    commits = {role: recorder.commit_part(role, parts[role]) for role in plan.roles}
    utilities = coalition_utilities(procs, plan, val_metrics["auc"], emit)
    anchored = Anchored(split, session, test_metrics, val_metrics, parts, utilities)
    return anchored, commits


def coalition_utilities(
    procs: PartyProcesses, plan: TablesPlan, full_auc: float, emit: EventSink
) -> dict[str, float]:
    """Validation AUC of the guest with every proper subset of the hosts (0.5 without it)."""
    hosts = plan.tables.host_roles
    n = len(hosts)
    players = range(n + 1)
    utilities: dict[str, float] = {}
    for size in range(n + 2):
        for members in itertools.combinations(players, size):
            if 0 not in members:
                utilities[_key(members)] = 0.5
            elif len(members) == n + 1:
                utilities[_key(members)] = full_auc
            elif plan.settings.shapley:
                chosen = tuple(hosts[k - 1] for k in members if k)
                name = "coalition-" + _key(members)
                session = _train(procs, plan, name, chosen)
                auc = _predict(procs, name, chosen, "validation")["auc"]
                emit(TrainingFinished(name, session.trees, session.seconds, validation_auc=auc))
                utilities[_key(members)] = auc
    return utilities


def shapley(utilities: Mapping[str, float], players: int) -> list[float]:
    """Exact Shapley values of the parties (guest first) from the coalition utilities.

    Without measured coalitions (``shapley=False``) the model's gain over 0.5 is split evenly.
    """
    from incentives.contribution import ExactShapley

    if len(utilities) < 2**players:
        full = utilities[_key(range(players))]
        return [(full - 0.5) / players] * players

    def utility(coalition: frozenset[int]) -> float:
        return float(utilities[_key(sorted(coalition))])

    return [float(v) for v in ExactShapley().estimate(players, utility).scores]


def collect(procs: PartyProcesses, plan: TablesPlan) -> CommStats:
    """Every party's traffic, merged."""
    stats = procs.run(dict.fromkeys(plan.roles, StatsJob()), PartyStats)
    comm = CommStats()
    for role in plan.roles:
        comm.merge(CommStats.from_state(stats[role].stats))
    return comm


__all__ = [
    "DEFAULT_TABLE_FOLDS",
    "Anchored",
    "BoostFold",
    "TablesPlan",
    "plan_tables",
    "shapley",
]
