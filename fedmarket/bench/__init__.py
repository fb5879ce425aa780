"""Benchmarks of the running service: ``scripts/bench-api`` (see :mod:`fedmarket.bench.api`).

Public surface::

    main(argv) -> int                 # the command line of scripts/bench-api
    BenchOptions, run_bench(options)  # what to measure; measure it (a dict of runs)
    LoadResult, load(...)             # the asyncio load generator and its figures

Private modules: ``_seed`` (the index filled as the indexer writes it), ``_load`` (raw
keep-alive HTTP/1.1 connections). The throw-away PostgreSQL server is
:func:`fedmarket.consortium.postgres.running_postgres`, the one the tests and ``fedmarket up`` use.
"""

from fedmarket.bench._load import LoadResult, load
from fedmarket.bench.api import BenchOptions, main, run_bench

__all__ = ["BenchOptions", "LoadResult", "load", "main", "run_bench"]
