"""``run_vfl`` on a user's own tables: preflight, N-host PSI, SecureBoost or LR, Shapley, chain.

The parties are spawned processes, the guest and ``host-1``..``host-N``, each given only its
own TLS identity and its own CSV (:class:`~fl_node.vertical.runner.inputs.TableSource`);
SecureBoost needs no arbiter (the guest holds the Paillier key), hetero LR adds the arbiter
(the key holder, with no data; the task's coordinator). The algorithm-specific steps are in
:mod:`~fl_node.vertical.runner._tables_algorithms`. In order:

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
   twin (SecureBoost's :func:`~fl_node.vertical.protocol.boost.fit_twin`, or logistic
   regression on the joined table standardised and clipped per fold) on the same folds;
6. the anchored model on a train / validation / test split; each party saves and commits its
   part; a model per coalition of feature groups (validation AUC) gives the Shapley value of
   every party (SecureBoost: the guest with each subset of the hosts, a coalition without the
   guest, which holds the labels, is worth 0.5; hetero LR: every coalition of features, the
   guest's labels always used); the round is finalised, claimed and settled with one
   participant per data party.

No row is dropped: ``VflSettings.drop_fraction`` is not applied to a user's tables.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from fl_node.events import EventSink
from fl_node.vertical.data import SplitIndices
from fl_node.vertical.protocol import HeteroLRConfig
from fl_node.vertical.protocol.boost import BoostConfig
from fl_node.vertical.runner._errors import InconsistentResultError
from fl_node.vertical.runner._process import PartyProcesses, PartySpec
from fl_node.vertical.runner._tables_algorithms import Steps, Trained, steps_for
from fl_node.vertical.runner.events import PsiDone, TrainingFinished
from fl_node.vertical.runner.inputs import VflTables
from fl_node.vertical.runner.jobs import (
    AlignJob,
    PartRecord,
    PartyStats,
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
    config : BoostConfig or HeteroLRConfig
        The algorithm's hyper-parameters with the run's key size and randomiser.
    folds : int
        Cross-validation folds (1: none).
    """

    tables: VflTables
    out: Path
    settings: VflSettings
    config: BoostConfig | HeteroLRConfig
    folds: int

    @property
    def roles(self) -> tuple[str, ...]:
        """The data parties (the task's participants): the guest and each host."""
        return ("guest", *self.tables.host_roles)

    @property
    def steps(self) -> Steps:
        """How one model of this algorithm is trained and scored."""
        return steps_for(self.config, self.tables.host_roles)

    @property
    def processes(self) -> tuple[str, ...]:
        """Every party process: the data parties, and the arbiter for hetero LR."""
        return (*self.roles, *self.steps.extra_processes)

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
        lr = isinstance(self.config, HeteroLRConfig)
        return {
            "kind": "vertical-logistic-regression" if lr else "vertical-secureboost",
            **self.tables.spec(),
            "protocol": _LR_PROTOCOL if lr else _BOOST_PROTOCOL,
            "psi": "ecdh-oprf-secp256k1, guest with each host, rows shared by every party",
            "config": _config_dict(self.config),
            "contribution": "Shapley per party over feature groups (validation AUC of "
            + (
                "the model on each coalition's features, the guest's labels always used; "
                "empty coalition 0.5)"
                if lr
                else "the model of the guest with each subset of hosts; without the guest 0.5)"
            ),
        }


_BOOST_PROTOCOL = (
    "SecureBoost: the guest encrypts packed (g, h) with its Paillier key, hosts build "
    "encrypted histograms, the guest splits, hosts keep their thresholds; federated "
    "prediction (FATE SecureBoost, no arbiter)"
)
_LR_PROTOCOL = (
    "hetero LR with one guest and N hosts, Taylor loss, Paillier with the arbiter holding the "
    "key (FATE coordinated LR; the arbiter is the task's coordinator); each party standardises "
    "on the training rows and clips at x_bound; federated prediction"
)


def plan_tables(tables: VflTables, settings: VflSettings, out: Path) -> TablesPlan:
    """Check the input and the settings; create ``out``.

    Raises
    ------
    VflInputError
        No host, a missing file, too many hosts for LR, terms, randomiser or timeout out of
        range.
    """
    tables.check()
    settings._check_terms()
    check_party_timeout(settings.party_timeout_s)
    config: BoostConfig | HeteroLRConfig
    if tables.algorithm == "lr":
        lr = replace(tables.lr, key_bits=settings.key_bits, seed=settings.seed)
        lr = replace(lr, max_epochs=settings.epochs) if settings.epochs else lr
        config = settings.with_randomizer(lr)
    else:
        config = settings.with_randomizer(replace(tables.boost, key_bits=settings.key_bits))
    folds = DEFAULT_TABLE_FOLDS if settings.cv_folds is None else settings.cv_folds
    Path(out).mkdir(parents=True, exist_ok=True)
    return TablesPlan(tables, Path(out), settings, config, folds)


def _config_dict(config: BoostConfig | HeteroLRConfig) -> dict[str, object]:
    from dataclasses import asdict

    return dict(asdict(config))


def start_table_parties(plan: TablesPlan) -> PartyProcesses:
    """The guest's and the hosts' processes, each with its own identity and file.

    Hetero LR adds the arbiter's: no file, a channel to every data party.
    """
    processes, timeout = plan.processes, plan.settings.party_timeout_s
    creds = make_credentials(list(processes))
    arbiter = tuple(r for r in processes if r == "arbiter")
    specs = {
        source.party: PartySpec(
            role=source.party,
            creds=creds[source.party],
            table=source,
            seed=plan.settings.seed,
            timeout=timeout,
            peers=tuple(r for r in processes if r != source.party)
            if source.party == "guest"
            else ("guest", *arbiter),  # hosts have no channel to each other
        )
        for source in plan.tables.sources
    }
    for role in arbiter:
        specs[role] = PartySpec(role, creds[role], timeout=timeout, peers=plan.roles)
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
    """One cross-validation fold: its split, the federated metrics, the trained model."""

    fold: int
    split: SplitIndices
    metrics: dict[str, float]
    session: Trained


def _split(procs: PartyProcesses, plan: TablesPlan, job: SplitJob) -> SplitIndices:
    jobs = dict.fromkeys(plan.roles, job)
    return procs.run(jobs, SplitOutcome)["guest"].split


def _finished(name: str, trained: Trained, **auc: float) -> TrainingFinished:
    return TrainingFinished(name, trained.rounds, trained.seconds, losses=trained.losses, **auc)


def cross_validate(procs: PartyProcesses, plan: TablesPlan, emit: EventSink) -> list[BoostFold]:
    """Each fold trained end to end with every party and scored on its held-out rows."""
    steps, seed, everyone = plan.steps, plan.settings.seed, range(len(plan.roles))
    out = []
    for fold in range(plan.folds if plan.folds > 1 else 0):
        split = _split(procs, plan, SplitJob(0.0, 0.0, seed=seed, folds=plan.folds, fold=fold))
        name = f"cv-{fold}"
        session = steps.train(procs, name, everyone)
        metrics = steps.predict(procs, name, everyone, "test")
        emit(_finished(name, session, test_auc=metrics["auc"]))
        out.append(BoostFold(fold, split, metrics, session))
    return out


@dataclass(frozen=True)
class Anchored:
    """The anchored model: split, session, metrics, saved parts, coalition utilities."""

    split: SplitIndices
    session: Trained
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
    steps, seed, everyone = plan.steps, plan.settings.seed, range(len(plan.roles))
    split = _split(procs, plan, SplitJob(0.0, 0.1, 0.2, seed=seed))
    session = steps.train(procs, "full", everyone)
    test_metrics = steps.predict(procs, "full", everyone, "test")
    val_metrics = steps.predict(procs, "full", everyone, "validation")
    emit(_finished("full", session, test_auc=test_metrics["auc"]))
    saves = {role: SaveJob("full", str(plan.out / role)) for role in plan.roles}
    parts = procs.run(saves, PartRecord)
    commits = {role: recorder.commit_part(role, parts[role]) for role in plan.roles}
    utilities = coalition_utilities(procs, plan, val_metrics["auc"], emit)
    anchored = Anchored(split, session, test_metrics, val_metrics, parts, utilities)
    return anchored, commits


def coalition_utilities(
    procs: PartyProcesses, plan: TablesPlan, full_auc: float, emit: EventSink
) -> dict[str, float]:
    """Validation AUC of every coalition of feature groups (0.5 where none is trained).

    SecureBoost trains the guest with every proper subset of the hosts; hetero LR every
    non-empty proper coalition (the guest's labels always used).
    """
    steps, n = plan.steps, len(plan.roles)
    utilities: dict[str, float] = {}
    for size in range(n + 1):
        for members in itertools.combinations(range(n), size):
            if size == n:
                utilities[_key(members)] = full_auc
            elif not steps.measured(members):
                utilities[_key(members)] = 0.5
            elif plan.settings.shapley:
                name = "coalition-" + _key(members)
                session = steps.train(procs, name, members)
                auc = steps.predict(procs, name, members, "validation")["auc"]
                emit(_finished(name, session, validation_auc=auc))
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
    stats = procs.run(dict.fromkeys(plan.processes, StatsJob()), PartyStats)
    comm = CommStats()
    for role in plan.processes:
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
