"""The root of the ``fedmarket`` command line: one Typer app, one module per command group.

Every command has ``--help``. Errors end the program with one readable line on stderr and the
exit code of their family (:mod:`fedmarket.cli.errors`, the README's "Exit codes" table); a
command-line usage error gets Typer's own message and exit 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fedmarket.cli import (
    chain,
    court,
    data,
    demo,
    ftl,
    index,
    market,
    pool,
    roles,
    serve,
    simulate,
    status,
    task,
    token,
    up,
    vfl,
)
from fedmarket.cli._common import setup_logging

app = typer.Typer(
    help="fedmarket: paid, auditable federated learning on an Ethereum chain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    setup_logging(verbose)


app.command()(demo.demo)
app.command()(vfl.vfl)
app.command()(ftl.ftl)
app.command()(simulate.simulate)
app.command()(pool.pool)
app.add_typer(chain.chain_app, name="chain")
app.add_typer(data.data_app, name="data")
app.add_typer(task.task_app, name="task")
app.add_typer(token.token_app, name="token")
app.add_typer(status.status_app, name="status")
app.command()(roles.participant)
app.command()(roles.coordinator)
app.command()(roles.audit)
app.command()(roles.challenge)
app.command()(roles.claim)
app.add_typer(court.court_app, name="court")
app.command()(market.buy)
app.command()(market.proceeds)
app.command()(serve.serve)
app.command()(up.up)
app.command()(index.index)
