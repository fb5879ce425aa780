"""The vertical-FL run: three party processes, their on-chain record, events and deliverables.

:func:`run_vfl` is the entry point (``fedmarket vfl`` calls it). It is composed of named steps,
each handing the next a typed record (:mod:`.records`): create the task, start the parties,
PSI, cross-validation, the anchored model, the Shapley coalitions, the phe comparison,
collect, the baseline, the on-chain record, figures, summary and deliverables.

``settings``
    :class:`VflSettings` (the run's knobs), :data:`PRESETS`, :data:`CV_FOLDS`.
``events``
    The run's typed progress events (with the shared ones of :mod:`fl_node.events`).
``jobs``, ``parties``
    What the orchestrator asks a party and what it answers; the guest, host and arbiter.
``onchain``
    :class:`TaskRecorder`: the task on a FedTask v2 deployment provisioned by
    :func:`chain.provision` (fresh contracts, or an existing deployment with the roles' keys):
    its :class:`TaskTerms` (pool, schedule, stakes), the :class:`RewardPlan` (rewards root
    and shares) and the records of what the chain holds.
``baseline``, ``records``
    The centralised baseline; the records the steps hand each other.

Nothing else in :mod:`fl_node.vertical` imports this package.
"""

from fl_node.vertical.runner._errors import (
    DeadlineMissedError,
    InconsistentResultError,
    PartyCrashedError,
    PartyProtocolError,
    PartyStalledError,
    PartyTimeoutError,
    SponsorFundsError,
    StakeFundsError,
    VflInputError,
    VflRunError,
)
from fl_node.vertical.runner._process import PartyProcesses, PartySpec, party_main
from fl_node.vertical.runner.baseline import Baseline, centralized_baseline
from fl_node.vertical.runner.events import (
    BaselineDone,
    DeadlineReached,
    PartiesStarted,
    PheCompared,
    PsiDone,
    SplitDone,
    TrainingFinished,
    TrainingStarted,
)
from fl_node.vertical.runner.jobs import (
    PartRecord,
    PartyStats,
    PredictJob,
    PredictOutcome,
    PsiJob,
    PsiOutcome,
    SaveJob,
    SplitJob,
    SplitOutcome,
    StatsJob,
    TrainJob,
    TrainOutcome,
)
from fl_node.vertical.runner.onchain import (
    KEY_VARIABLES,
    ROLES,
    TOKEN,
    ClaimRecord,
    RewardPlan,
    RewardsRecord,
    StakesRecord,
    TaskRecorder,
    TaskTerms,
    TaskTimeline,
    travel_schedule,
    waiting_schedule,
)
from fl_node.vertical.runner.parties import ArbiterParty, GuestParty, HostParty, handle
from fl_node.vertical.runner.records import Training
from fl_node.vertical.runner.run import run_vfl
from fl_node.vertical.runner.settings import CV_FOLDS, PRESETS, RunPlan, VflSettings

__all__ = [
    "CV_FOLDS",
    "KEY_VARIABLES",
    "PRESETS",
    "ROLES",
    "TOKEN",
    "ArbiterParty",
    "Baseline",
    "BaselineDone",
    "ClaimRecord",
    "DeadlineMissedError",
    "DeadlineReached",
    "GuestParty",
    "HostParty",
    "InconsistentResultError",
    "PartRecord",
    "PartiesStarted",
    "PartyCrashedError",
    "PartyProcesses",
    "PartyProtocolError",
    "PartyStalledError",
    "PartySpec",
    "PartyStats",
    "PartyTimeoutError",
    "PheCompared",
    "PredictJob",
    "PredictOutcome",
    "PsiDone",
    "PsiJob",
    "PsiOutcome",
    "RewardPlan",
    "RewardsRecord",
    "RunPlan",
    "SaveJob",
    "SplitDone",
    "SplitJob",
    "SplitOutcome",
    "SponsorFundsError",
    "StakeFundsError",
    "StakesRecord",
    "StatsJob",
    "TaskRecorder",
    "TaskTerms",
    "TaskTimeline",
    "TrainJob",
    "TrainOutcome",
    "Training",
    "TrainingFinished",
    "TrainingStarted",
    "VflInputError",
    "VflRunError",
    "VflSettings",
    "centralized_baseline",
    "handle",
    "party_main",
    "run_vfl",
    "travel_schedule",
    "waiting_schedule",
]
