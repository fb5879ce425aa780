"""The FedOpt family (Reddi et al., 2021, "Adaptive Federated Optimization", Algorithm 2).

The server treats the sample-weighted mean of the participants' deltas as a pseudo-gradient
``Delta_t`` and applies an adaptive optimizer to it, coordinate by coordinate::

    m_t     = beta1 * m_{t-1} + (1 - beta1) * Delta_t
    v_t     = second_moment(v_{t-1}, Delta_t^2)          # Adam, Yogi or Adagrad
    x_{t+1} = x_t + server_lr * m_t / (sqrt(v_t) + tau)

with ``m_{-1} = 0`` and ``v_{-1} = tau^2`` (the paper asks ``v_{-1} >= tau^2``), and, as in the
paper, no bias correction. The paper averages deltas uniformly; here they are weighted by sample
count, as FedAvg does.

The moments are the server state (``"m/<param>"`` and ``"v/<param>"``, float32): the arithmetic
runs in float64, ``m_t`` and ``v_t`` are rounded to float32 (what is stored), and the step uses the
rounded values, so the audit recomputes a round bit for bit from the stored state. A round with no
accepted update leaves the model and the state as they were.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import AggregationError
from fl_node.strategies._utils import (
    MAX_SERVER_LR,
    check_hyperparameter,
    require_finite,
    weighted_average,
)
from fl_node.strategies.base import AggregateResult, ClientUpdate, Strategy, check_updates
from fl_node.strategies.state import ServerState
from fl_node.training import TrainConfig

MIN_TAU, MAX_TAU = 1e-9, 1.0
"""Range of the adaptivity constant ``tau`` (``v_{-1} = tau^2`` must stay a normal float32)."""


def fedopt_step(
    x: torch.Tensor,
    delta: torch.Tensor,
    m: torch.Tensor,
    v_next: torch.Tensor,
    *,
    server_lr: float,
    beta1: float,
    tau: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One tensor's step given its new second moment: ``(x_{t+1}, m_t, v_t)``.

    ``v_next`` is ``v_t`` already computed by the strategy's rule (float64). The arithmetic runs
    on ``x``'s device (IEEE float64 add, multiply, divide and square root round the same on CPU
    and GPU); ``m_t`` and ``v_t`` come back as float32 on the CPU, ``x_{t+1}`` like ``x``.
    """
    device = x.device
    m64 = beta1 * m.to(device, torch.float64) + (1.0 - beta1) * delta.to(device, torch.float64)
    m_t, v_t = m64.float(), v_next.to(device).float()
    step = server_lr * m_t.double() / (v_t.double().sqrt() + tau)
    return (x.double() + step).to(x.dtype), m_t.cpu(), v_t.cpu()


class FedOpt(Strategy):
    """Base of FedAdam, FedYogi and FedAdagrad: they differ in :meth:`second_moment` only.

    Parameters
    ----------
    server_lr : float
        The server learning rate ``eta``, in ``(0, 100]``.
    beta1 : float
        First-moment decay, in ``[0, 1)``.
    tau : float
        Adaptivity constant, in ``[1e-9, 1]``.
    """

    stateful = True

    def __init__(self, server_lr: float, beta1: float, tau: float) -> None:
        owner = type(self).__name__
        self.server_lr = check_hyperparameter(
            owner, "server_lr", server_lr, 0.0, MAX_SERVER_LR, low_open=True
        )
        self.beta1 = check_hyperparameter(owner, "beta1", beta1, 0.0, 1.0, high_open=True)
        self.tau = check_hyperparameter(owner, "tau", tau, MIN_TAU, MAX_TAU)

    @abstractmethod
    def second_moment(self, v: torch.Tensor, delta_sq: torch.Tensor) -> torch.Tensor:
        """``v_t`` from ``v_{t-1}`` and ``Delta_t^2`` (float64 in, float64 out)."""

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """Participants run the task's configuration as given."""
        return base

    def initial_state(self, params: Mapping[str, torch.Tensor]) -> ServerState:
        """``m = 0`` and ``v = tau^2`` (float32) for every floating-point tensor of ``params``."""
        tensors: dict[str, torch.Tensor] = {}
        for name, value in params.items():
            if torch.is_floating_point(value):
                tensors[f"m/{name}"] = torch.zeros(value.shape, dtype=torch.float32)
                tensors[f"v/{name}"] = torch.full(value.shape, self.tau**2, dtype=torch.float32)
        return ServerState(self.name, tensors)

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """Refused: without the round's state the moments would restart every round."""
        raise AggregationError(f"{self.name} is stateful: call aggregate_with_state")

    def aggregate_with_state(
        self,
        params: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
        state: ServerState,
    ) -> AggregateResult:
        """One server step on the sample-weighted mean delta; see the module docstring.

        Raises
        ------
        AggregationError
            A non-finite update, a state that is not this strategy's or does not fit ``params``,
            or a step whose result would not be finite.
        """
        self._check_state(params, state)
        if not updates:
            return AggregateResult({k: v.clone() for k, v in params.items()}, state)
        check_updates(updates, self.name)
        mean = weighted_average([u.delta for u in updates], [u.samples for u in updates])
        unknown = [k for k in mean if f"m/{k}" not in state.tensors]
        if unknown:
            raise AggregationError(f"{self.name}: deltas for unknown tensors {unknown}")
        new_params = {k: v.clone() for k, v in params.items()}
        new_state = dict(state.tensors)
        for name, delta in mean.items():
            device = params[name].device
            v_prev = state.tensors[f"v/{name}"].to(device, torch.float64)
            delta64 = delta.to(device, torch.float64)
            v_next = self.second_moment(v_prev, delta64 * delta64)
            new_params[name], new_state[f"m/{name}"], new_state[f"v/{name}"] = fedopt_step(
                params[name],
                delta64,
                state.tensors[f"m/{name}"],
                v_next,
                server_lr=self.server_lr,
                beta1=self.beta1,
                tau=self.tau,
            )
        require_finite(new_params, f"{self.name}: next model")
        require_finite(new_state, f"{self.name}: next state")
        return AggregateResult(new_params, ServerState(self.name, new_state))

    def _check_state(self, params: Mapping[str, torch.Tensor], state: ServerState) -> None:
        """The state is this strategy's, fits ``params``, is finite, and ``v >= 0``."""
        if state.strategy != self.name:
            raise AggregationError(f"{self.name}: given the state of {state.strategy!r}")
        expected = {
            f"{kind}/{name}": tuple(value.shape)
            for name, value in params.items()
            if torch.is_floating_point(value)
            for kind in ("m", "v")
        }
        got = {k: tuple(v.shape) for k, v in state.tensors.items()}
        if got != expected or any(v.dtype != torch.float32 for v in state.tensors.values()):
            raise AggregationError(f"{self.name}: the state does not fit the model")
        require_finite(state.tensors, f"{self.name}: state")
        if any(bool((v < 0).any()) for k, v in state.tensors.items() if k.startswith("v/")):
            raise AggregationError(f"{self.name}: the state holds a negative second moment")
