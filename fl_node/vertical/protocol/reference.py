"""Plaintext Taylor-LR with the protocol's exact schedule: what the encrypted run must equal.

Tests train the same data both ways and compare weights and losses (the fast, encrypted
thing against the obvious one).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fl_node.vertical.protocol.config import (
    FloatArray,
    HeteroLRConfig,
    epoch_order,
    last_in_epoch,
    schedule,
)

_LOG2 = math.log(2.0)


def taylor_lr_reference(
    x_guest: FloatArray,
    x_host: FloatArray,
    y: FloatArray,
    config: HeteroLRConfig,
    *,
    session: str,
    epochs: int,
    max_batches: int = 0,
) -> tuple[FloatArray, FloatArray, list[float]]:
    """Plaintext Taylor-LR with the protocol's exact schedule (for correctness tests).

    Parameters
    ----------
    x_guest, x_host : ndarray
        Standardised training features of both parties (aligned rows); either may have
        zero columns.
    y : ndarray
        0/1 labels.
    config : HeteroLRConfig
        The same configuration as the protocol run.
    session : str
        Session name (fixes the epoch orders).
    epochs : int
        Epochs to run (no convergence check).
    max_batches : int
        Batch limit (0: none).

    Returns
    -------
    tuple
        ``(guest weights incl. intercept last, host weights, epoch losses)``.
    """
    cfg = replace(config, max_epochs=epochs)
    xg = np.hstack([x_guest, np.ones((x_guest.shape[0], 1))])
    wg = np.zeros(xg.shape[1])
    wh = np.zeros(x_host.shape[1])
    losses: list[float] = []
    total, rows_seen, epoch = 0.0, 0, -1
    order = np.arange(0)
    n = xg.shape[0]
    for ep, batch, lo, hi in schedule(n, cfg.batch_size, epochs, max_batches):
        if ep != epoch:
            epoch = ep
            order = epoch_order(cfg.seed, session, ep, n)
        rows = order[lo:hi]
        wg, wh, loss = _reference_batch(xg[rows], x_host[rows], y[rows], wg, wh, cfg, ep)
        total += loss
        rows_seen += len(rows)
        if last_in_epoch(n, cfg.batch_size, max_batches, ep, batch):
            losses.append(total / rows_seen)
            total, rows_seen = 0.0, 0
    return wg, wh, losses


def _reference_batch(
    xg: FloatArray,
    xh: FloatArray,
    yb: FloatArray,
    wg: FloatArray,
    wh: FloatArray,
    cfg: HeteroLRConfig,
    epoch: int,
) -> tuple[FloatArray, FloatArray, float]:
    """One plaintext Taylor-LR step on a batch: new weights and the batch's summed loss."""
    rows = len(yb)
    zg = np.clip(xg @ wg, -cfg.score_bound, cfg.score_bound)
    zh = np.clip(xh @ wh, -cfg.score_bound, cfg.score_bound)
    z = zg + zh
    yp = 2 * yb - 1
    loss = float(np.sum(_LOG2 - 0.5 * yp * z + 0.125 * z * z))
    loss += 0.5 * cfg.l2 * rows * (float(wg[:-1] @ wg[:-1]) + float(wh @ wh))
    d = 0.25 * z + 0.5 - yb
    gg = xg.T @ d / rows
    gg[:-1] += cfg.l2 * wg[:-1]
    gh = xh.T @ d / rows + cfg.l2 * wh
    return wg - cfg.lr(epoch) * gg, wh - cfg.lr(epoch) * gh, loss
