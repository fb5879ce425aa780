"""SecureBoost hyper-parameters: :class:`BoostConfig`, shared by the twin and the protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import DEFAULT_RANDOMIZER, RANDOMIZERS, RandomizerName
from fl_node.vertical.protocol.boost._errors import BoostConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoostCipherName = Literal["ours", "phe"]

#: Float64 sums of quantised gradients are exact below this magnitude.
EXACT_FLOAT_BITS = 53


@dataclass(frozen=True)
class BoostConfig:
    """Hyper-parameters of a gradient-boosted tree ensemble (logistic loss).

    Parameters
    ----------
    n_trees : int, default 20
        Boosting rounds.
    max_depth : int, default 3
        Depth of every tree (a root-only tree has depth 0).
    learning_rate : float, default 0.3
        Shrinkage of every leaf weight.
    max_bins : int, default 32
        Quantile bins per feature (2..256).
    reg_lambda : float, default 1.0
        L2 penalty on leaf weights (``w = -G / (H + lambda)``).
    min_child_weight : float, default 1.0
        Smallest hessian sum of a child.
    min_gain : float, default 0.0
        A split must gain strictly more (XGBoost's ``gamma``).
    precision_bits : int, default 32
        Fractional bits of the fixed-point gradients and hessians (both the twin and the
        protocol quantise to ``2**-precision_bits``; the protocol is exact at this precision).
    key_bits : int, default 2048
        Paillier modulus of the guest's key (protocol only).
    cipher : {"ours", "phe"}, default "ours"
        Paillier back end (protocol only).
    randomizer : {"short-exponent", "textbook"}, default "short-exponent"
        How the guest draws Paillier randomisers with our cipher (protocol only). The guest
        holds the key, so ``"textbook"`` (uniform ``r**n``, DCR alone) is computed with the
        CRT (:func:`~fl_node.vertical.crypto.paillier.encryption_mode`); phe ignores it.
    """

    n_trees: int = 20
    max_depth: int = 3
    learning_rate: float = 0.3
    max_bins: int = 32
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    min_gain: float = 0.0
    precision_bits: int = 32
    key_bits: int = 2048
    cipher: BoostCipherName = "ours"
    randomizer: RandomizerName = DEFAULT_RANDOMIZER

    def __post_init__(self) -> None:
        checks = {
            "n_trees must be in [1, 10000]": 1 <= self.n_trees <= 10000,
            "max_depth must be in [1, 16]": 1 <= self.max_depth <= 16,
            "learning_rate must be in (0, 1]": 0.0 < self.learning_rate <= 1.0,
            "max_bins must be in [2, 256]": 2 <= self.max_bins <= 256,
            "reg_lambda must be >= 0": self.reg_lambda >= 0.0,
            "min_child_weight must be >= 0": self.min_child_weight >= 0.0,
            "min_gain must be >= 0": self.min_gain >= 0.0,
            "precision_bits must be in [8, 40]": 8 <= self.precision_bits <= 40,
            "key_bits must be in [512, 8192]": 512 <= self.key_bits <= 8192,
            "cipher must be 'ours' or 'phe'": self.cipher in ("ours", "phe"),
            f"randomizer must be one of {RANDOMIZERS}": self.randomizer in RANDOMIZERS,
        }
        bad = [text for text, ok in checks.items() if not ok]
        if bad or not all(math.isfinite(v) for v in (self.learning_rate, self.reg_lambda)):
            raise BoostConfigError("BoostConfig: " + "; ".join(bad or ["non-finite value"]))

    def max_rows(self) -> int:
        """Most training rows whose quantised sums stay exact in float64.

        Every row adds at most ``2**precision_bits`` (``|g| <= 1``) to a gradient sum, so
        ``rows * 2**precision_bits < 2**53`` keeps every histogram exact.
        """
        return (1 << (EXACT_FLOAT_BITS - self.precision_bits)) - 1

    def check_rows(self, n_rows: int) -> None:
        """Refuse a training set the fixed-point sums cannot hold exactly.

        Parameters
        ----------
        n_rows : int
            Training rows.
        """
        if not 1 <= n_rows <= self.max_rows():
            raise BoostConfigError(
                f"{n_rows} rows: need 1..{self.max_rows()} at {self.precision_bits} bits"
            )
