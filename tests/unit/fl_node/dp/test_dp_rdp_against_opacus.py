"""Our RDP of the subsampled Gaussian mechanism against Opacus' reference computation.

The accountant wrapper asks Opacus; :mod:`fl_node.dp.rdp` computes the same maths on its own
(vectorised series in log space). They must agree to 1e-6 relative on a grid of sampling rates,
noise multipliers, steps and every default order, both for the RDP curve and for epsilon.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.analysis import rdp as opacus_rdp

from fl_node.dp import DPError, epsilon
from fl_node.dp.rdp import DEFAULT_ORDERS, epsilon_from_rdp, rdp_curve, rdp_epsilon, rdp_gaussian

GRID_Q = (1e-3, 0.02, 0.3, 0.99, 1.0)
GRID_SIGMA = (0.7, 2.0, 8.0)


@cache
def reference_curve(q: float, sigma: float) -> np.ndarray:
    """Opacus' RDP of one step at every default order (its reference computation)."""
    orders = list(DEFAULT_ORDERS)
    return np.asarray(opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=orders))


@cache
def our_curve(q: float, sigma: float) -> np.ndarray:
    return rdp_curve(q, sigma, 1)


@pytest.mark.parametrize("q", GRID_Q)
@pytest.mark.parametrize("sigma", GRID_SIGMA)
def test_the_rdp_curve_matches_opacus_at_every_order(q: float, sigma: float) -> None:
    ours, ref = our_curve(q, sigma), reference_curve(q, sigma)
    # relative 1e-6; an absolute 1e-12 floor for RDP values near 0 (float64 rounding of log(1+x))
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("q", GRID_Q)
@pytest.mark.parametrize("sigma", GRID_SIGMA)
def test_epsilon_matches_opacus_conversion_over_steps(q: float, sigma: float) -> None:
    """RDP adds up over steps; epsilon by Opacus' own conversion of its own curve."""
    for steps in (1, 50, 5000):
        for delta in (1e-5, 1e-8):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected, _ = opacus_rdp.get_privacy_spent(
                    orders=list(DEFAULT_ORDERS), rdp=reference_curve(q, sigma) * steps, delta=delta
                )
            ours, _ = epsilon_from_rdp(DEFAULT_ORDERS, our_curve(q, sigma) * steps, delta)
            assert ours == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(("q", "sigma", "steps"), [(0.01, 1.0, 1000), (0.2, 2.0, 30), (1.0, 5, 10)])
def test_the_wrapper_and_our_maths_give_the_rdp_accountants_epsilon(
    q: float, sigma: float, steps: int
) -> None:
    ref = RDPAccountant()
    ref.history = [(sigma, q, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.get_epsilon(delta=1e-5)
    assert epsilon(sigma, q, steps, 1e-5, "rdp") == pytest.approx(expected, rel=1e-12)
    assert rdp_epsilon(q, sigma, steps, 1e-5) == pytest.approx(expected, rel=1e-6)


def test_integer_orders_match_the_binomial_sum_by_hand() -> None:
    q, sigma = 0.2, 1.3
    for alpha in (2, 3, 7):
        a = sum(
            math.comb(alpha, k)
            * (1 - q) ** (alpha - k)
            * q**k
            * math.exp((k * k - k) / (2 * sigma**2))
            for k in range(alpha + 1)
        )
        assert rdp_gaussian(q, sigma, alpha) == pytest.approx(math.log(a) / (alpha - 1), rel=1e-12)


def test_fractional_orders_match_numerical_integration() -> None:
    """``A_alpha = E_{z ~ N(0, s^2)}[(1 - q + q exp((2z - 1) / 2 s^2))^alpha]`` by quadrature."""
    q, sigma = 0.05, 1.1
    z = np.linspace(-40, 40, 800_001)
    density = np.exp(-(z**2) / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2)
    ratio = 1 - q + q * np.exp((2 * z - 1) / (2 * sigma**2))
    for alpha in (1.5, 2.5, 6.3):
        a = float(np.sum(density * ratio**alpha) * (z[1] - z[0]))
        assert rdp_gaussian(q, sigma, alpha) == pytest.approx(math.log(a) / (alpha - 1), rel=1e-6)


def test_no_sampling_is_the_plain_gaussian_and_conversion_is_balle_et_al() -> None:
    assert rdp_gaussian(1.0, 2.0, 3.0) == pytest.approx(3.0 / 8.0)
    assert rdp_gaussian(0.0, 2.0, 3.0) == 0.0
    eps, order = epsilon_from_rdp([2.0], [0.5], 1e-5)
    assert order == 2.0
    assert eps == pytest.approx(0.5 - (math.log(1e-5) + math.log(2)) + math.log(0.5))


@pytest.mark.parametrize("bad", [(1.5, 1.0, 2.0), (0.5, -1.0, 2.0), (0.5, 1.0, 1.0)])
def test_out_of_range_inputs_are_refused(bad: tuple[float, float, float]) -> None:
    with pytest.raises(DPError):
        rdp_gaussian(*bad)
