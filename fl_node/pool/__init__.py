"""The random model sharing pool: several base models, drawn and dealt at random each round.

Pure rules the pool runner and the audit share (no chain, storage or torch here):

- :mod:`~fl_node.pool.assignment`: the coordinator's committed secret, each round's seed, and the
  draw of base models and their dealing to participants (:func:`draw`, :class:`PoolDraw`);
- :mod:`~fl_node.pool.convergence`: when a global model's test error has settled
  (:class:`ConvergenceRule`);
- :mod:`~fl_node.pool.acceptance`: the confidence region and elimination rule that turn the
  converged models into the shared pool (:func:`accept`);
- :mod:`~fl_node.pool.linkage`: the linkage attack that measures what the randomisation hides
  (:func:`run_linkage`).

The pool task itself, which needs the chain, the store and torch, is in the modules beside them:
:mod:`~fl_node.pool.spec` (the stored spec), :mod:`~fl_node.pool.lanes` (one base model's
training and aggregation), :mod:`~fl_node.pool.scoring` (contributions summed per participant),
:mod:`~fl_node.pool.ledger` (FedTask or in-memory record), :mod:`~fl_node.pool.run` (the rounds)
and :mod:`~fl_node.pool.audit` (the re-check from the chain and the store).
"""

from fl_node.pool.acceptance import (
    AcceptanceRule,
    Candidate,
    PoolDecision,
    Reason,
    accept,
    agreement_of,
    wilson_interval,
)
from fl_node.pool.assignment import (
    KeccakStream,
    PoolDraw,
    draw,
    participant_key,
    participant_score,
    round_seed,
    seed_commitment,
)
from fl_node.pool.convergence import ConvergenceRule, converged, drawable, rounds_to_converge
from fl_node.pool.errors import (
    DrawError,
    LinkageError,
    NotInDrawError,
    PoolError,
    PoolInputError,
)
from fl_node.pool.linkage import LinkageResult, Sighting, Strategy, run_linkage

__all__ = [
    "AcceptanceRule",
    "Candidate",
    "ConvergenceRule",
    "DrawError",
    "KeccakStream",
    "LinkageError",
    "LinkageResult",
    "NotInDrawError",
    "PoolDecision",
    "PoolDraw",
    "PoolError",
    "PoolInputError",
    "Reason",
    "Sighting",
    "Strategy",
    "accept",
    "agreement_of",
    "converged",
    "draw",
    "drawable",
    "participant_key",
    "participant_score",
    "round_seed",
    "rounds_to_converge",
    "run_linkage",
    "seed_commitment",
    "wilson_interval",
]
