"""Load benchmark: many participant processes, Flower at 100 nodes, the API under buyers.

Run it as::

    scripts/bench-load                          # every part at full size (about half an hour)
    scripts/bench-load --part processes         # one part: processes, flower or api
    scripts/bench-load --quick                  # tiny sizes, a short schedule: a smoke run
    scripts/bench-load --json out.json          # the figures as JSON too
    scripts/bench-load --help                   # every option

(``python -m fedmarket.bench.loadtest ...`` is the same.) Three parts, printed as one table each:

1. **processes** (:mod:`~fedmarket.bench.loadtest.processes`): ``--participants`` (50)
   ``fedmarket participant`` processes, each with its own key, and one ``fedmarket coordinator``
   process train ``--rounds`` (5) rounds of a task on the default-credit rows split over them,
   against anvil, on a real-time schedule that grows with the participants
   (``--commit-period``, ``--reveal-period``, ``--poll``). Reported: rounds completed, seconds per
   round and how much of the commit period the commitments used, updates committed, accepted and
   lost, claims against the rounds' rewards (double payments, overpaid, unclaimed), stakes
   returned, start-up of the processes, their peak memory (summed, at once, the largest) and CPU.
2. **flower** (:mod:`~fedmarket.bench.loadtest.flower`): the coordinator's seconds per round
   (opening, anchoring, finalisation with its aggregation and contribution measurement) through
   :class:`fl_node.flower.AnchoredStrategy`, at ``--flower-sizes`` (10, 50, 100) nodes for
   ``--flower-rounds`` (2) rounds, on Flower's simulation engine (``--flower-engine ray``) or an
   in-process grid (``inprocess``), and how it grows against the smallest size; the coalitions the
   contribution estimator evaluated and the size of each round's evidence.
3. **api** (:mod:`~fedmarket.bench.loadtest.api`): the marketplace API (``--workers`` uvicorn
   workers, PostgreSQL, ``--listings`` seeded listings) under ``--concurrency`` (1, 10, 50)
   concurrent buyers walking the buyer's flow (browse, model, quote, grant, download) for
   ``--duration`` (10) seconds each: requests/s, p50 and p99 latency and errors per step, without
   and with a task of ``--task-participants`` (4) processes running on the same machine.

The parts run in that order; with the API part, the processes part runs on the market's chain and
its final model is the one on sale. ``--work DIR`` keeps every file (each process's log, the data,
the content store). The exit status is 0 when every part ran and met its targets (no update lost,
no double payment, no API error, every Flower run complete), 1 otherwise.

Everything runs on this machine, the load generator too: the figures include its CPU.
"""

from fedmarket.bench.loadtest.cli import LoadOptions, LoadResult, main, run_bench

__all__ = ["LoadOptions", "LoadResult", "main", "run_bench"]
