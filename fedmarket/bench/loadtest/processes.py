"""Part 1: N participant processes and a coordinator process on one machine, against anvil.

On an anvil node with the contracts deployed (:func:`deploy_place`, or the API part's market
chain), splits the rows over the N parties and designs the task
(:mod:`fedmarket.bench.loadtest._data`), then runs the task with one ``fedmarket coordinator``
and N ``fedmarket participant`` processes
(:class:`fedmarket.bench.loadtest._task.ProcessTask`) until every process has exited: the
coordinator once it took its stake back, each participant once it claimed every reward and took
its stake back. The figures come from the chain and the store afterwards
(:mod:`fedmarket.bench.loadtest._figures`); memory and CPU from ``/proc`` while they ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chain import RpcBackend, deploy, signer_for
from fedmarket.bench.loadtest._children import Children
from fedmarket.bench.loadtest._data import prepare_split
from fedmarket.bench.loadtest._figures import ProcessesResult, task_figures
from fedmarket.bench.loadtest._task import ChainPlace, ProcessTask, TaskProgress, TaskSchedule
from kernel.errors import ServiceUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessesOptions:
    """Part 1's size.

    Parameters
    ----------
    participants : int
        Participant processes.
    rounds : int
        Rounds of the task.
    commit_s, reveal_s : int or None
        The commit and reveal periods (``None``: :meth:`TaskSchedule.for_parties`).
    poll_s : float or None
        The participants' polling interval (``None``: the same).
    """

    participants: int = 50
    rounds: int = 5
    commit_s: int | None = None
    reveal_s: int | None = None
    poll_s: float | None = None

    def schedule(self) -> TaskSchedule:
        """The task's schedule."""
        return TaskSchedule.for_parties(
            self.participants, commit_s=self.commit_s, reveal_s=self.reveal_s, poll_s=self.poll_s
        )


def deploy_place(rpc_url: str, work: Path) -> ChainPlace:
    """Deploy the contracts from the chain's faucet; where a task can run."""
    backend = RpcBackend(rpc_url)
    faucet = backend.faucet_account()
    if faucet is None:
        raise ServiceUnavailableError("bench-load: the chain has no funded account")
    deployment = deploy(signer_for(backend, faucet))
    work.mkdir(parents=True, exist_ok=True)
    return ChainPlace(rpc_url, deployment.save(work / "deployment.json"), work / "store")


@contextmanager
def progress_of(
    console: Console, task: ProcessTask, rounds: int, label: str
) -> Iterator[Callable[[TaskProgress], None]]:
    """Progress bars of ``task`` (participants joined, rounds finalised) and their hook."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        joined = progress.add_task(f"{label}: participants joined", total=task.parties)
        finalized = progress.add_task(f"{label}: rounds finalised", total=rounds)

        def tick(state: TaskProgress) -> None:
            progress.update(joined, completed=state.joined)
            progress.update(finalized, completed=state.finalized)

        yield tick


def run_processes(
    place: ChainPlace, options: ProcessesOptions, console: Console, work: Path
) -> tuple[ProcessesResult, ProcessTask]:
    """Run part 1 (see the module docstring) on ``place``; its figures and the ended task.

    Parameters
    ----------
    place : ChainPlace
        The chain, the deployment and the store (:func:`deploy_place`).
    options : ProcessesOptions
        Participants, rounds, schedule.
    console : Console
        Where the progress bars go.
    work : Path
        Where the data and the processes' logs go.
    """
    split = prepare_split(work / "processes-data", options.participants, options.rounds)
    with Children(work / "processes-logs") as children:
        task = ProcessTask(place, split, options.schedule(), children, name="processes")
        task.create()
        started = time.monotonic()
        task.launch()
        with progress_of(console, task, options.rounds, "processes") as tick:
            task.wait(tick, task.schedule.longest_s(options.rounds))
        return task_figures(task, time.monotonic() - started), task
