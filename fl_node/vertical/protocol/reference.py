"""Plaintext Taylor-LR with the protocol's exact schedule: what the encrypted run must equal.

Tests train the same data both ways and compare weights and losses (the fast, encrypted
thing against the obvious one). The reference trains one weight vector on the concatenated
features ``[X_g | 1 | X_h1 | ... | X_hN]``; only the per-party clipping of the partial scores
(``|z_p| <= score_bound``, as every party clips its own) needs the groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fl_node.vertical.protocol.config import (
    FloatArray,
    HeteroLRConfig,
    epoch_order,
    last_in_epoch,
    schedule,
)

_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class ReferenceFit:
    """Weights and losses of the plaintext reference, split as the parties hold them.

    Attributes
    ----------
    guest : ndarray
        The guest's feature weights with the intercept last.
    hosts : tuple of ndarray
        Each host's feature weights, in the order given.
    losses : tuple of float
        Epoch losses (mean Taylor loss over the epoch's rows, L2 terms included).
    """

    guest: FloatArray
    hosts: tuple[FloatArray, ...]
    losses: tuple[float, ...]


def multihost_reference(
    x_guest: FloatArray,
    x_hosts: Sequence[FloatArray],
    y: FloatArray,
    config: HeteroLRConfig,
    *,
    session: str,
    epochs: int,
    max_batches: int = 0,
) -> ReferenceFit:
    """Plaintext Taylor-LR over the concatenated features of a guest and any number of hosts.

    Parameters
    ----------
    x_guest : ndarray of shape (n, F_g)
        Standardised guest training features (aligned rows); may have zero columns.
    x_hosts : sequence of ndarray of shape (n, F_h)
        Each host's standardised training features; any may have zero columns.
    y : ndarray of shape (n,)
        0/1 labels.
    config : HeteroLRConfig
        The same configuration as the protocol run.
    session : str
        Session name (fixes the epoch orders).
    epochs : int
        Epochs to run (no convergence check).
    max_batches : int, default 0
        Batch limit (0: none).

    Returns
    -------
    ReferenceFit
        The weights split by party and the epoch losses.
    """
    cfg = replace(config, max_epochs=epochs)
    n = x_guest.shape[0]
    parts = [np.hstack([x_guest, np.ones((n, 1))]), *x_hosts]
    edges = np.cumsum([0] + [p.shape[1] for p in parts])
    x = np.hstack(parts)
    w = np.zeros(x.shape[1])
    l2_mask = np.ones_like(w)
    l2_mask[x_guest.shape[1]] = 0.0  # no L2 on the intercept
    groups = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
    losses: list[float] = []
    total, rows_seen, epoch = 0.0, 0, -1
    order = np.arange(0)
    for ep, batch, lo, hi in schedule(n, cfg.batch_size, epochs, max_batches):
        if ep != epoch:
            epoch = ep
            order = epoch_order(cfg.seed, session, ep, n)
        rows = order[lo:hi]
        w, loss = _reference_batch(x[rows], y[rows], w, groups, l2_mask, cfg, ep)
        total += loss
        rows_seen += len(rows)
        if last_in_epoch(n, cfg.batch_size, max_batches, ep, batch):
            losses.append(total / rows_seen)
            total, rows_seen = 0.0, 0
    split = [w[a:b].copy() for a, b in groups]
    return ReferenceFit(split[0], tuple(split[1:]), tuple(losses))


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
    """Plaintext Taylor-LR of one guest and one host (:func:`multihost_reference`, N = 1).

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
    fit = multihost_reference(
        x_guest, [x_host], y, config, session=session, epochs=epochs, max_batches=max_batches
    )
    return fit.guest, fit.hosts[0], list(fit.losses)


def _reference_batch(
    x: FloatArray,
    yb: FloatArray,
    w: FloatArray,
    groups: list[tuple[int, int]],
    l2_mask: FloatArray,
    cfg: HeteroLRConfig,
    epoch: int,
) -> tuple[FloatArray, float]:
    """One plaintext Taylor-LR step on a batch: new weights and the batch's summed loss."""
    rows = len(yb)
    z = sum(
        (np.clip(x[:, a:b] @ w[a:b], -cfg.score_bound, cfg.score_bound) for a, b in groups),
        start=np.zeros(rows),
    )
    yp = 2 * yb - 1
    loss = float(np.sum(_LOG2 - 0.5 * yp * z + 0.125 * z * z))
    loss += 0.5 * cfg.l2 * rows * float((w * l2_mask) @ w)
    d = 0.25 * z + 0.5 - yb
    grad = x.T @ d / rows + cfg.l2 * l2_mask * w
    return w - cfg.lr(epoch) * grad, loss
