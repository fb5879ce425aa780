"""The demo's breast-cancer task: what the hospitals publish and what the sponsor asks for.

Everything specific to the story's dataset lives here; the general design step (pooled input
scaling) is :mod:`fedmarket.design`, shared with ``fedmarket task design``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedmarket.design import pooled_model
from fl_node.data import FeatureStats, LocalDataset
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from incentives.rewards import RewardPolicy

ACCEPTANCE = {"accuracy": 0.92, "f1": 0.88}
"""The sponsor's targets on the held-out test set."""

TAG = "breast-cancer"
"""The tag the hospitals list under and the sponsor searches for."""

MODEL_OUTPUT = "logit of malignancy (apply a sigmoid for the probability)"
"""What the final model's output means (written to ``model_config.json``)."""

MODEL_LISTING = {
    "name": "Breast cancer diagnosis MLP (4 hospitals)",
    "description": "FedAvg MLP trained across four hospitals; shares by contribution.",
}
"""The final model's marketplace listing."""


def describe_dataset(
    data: LocalDataset,
    feature_names: Sequence[str],
    *,
    name: str,
    description: str = "",
    license: str = "CC-BY-4.0",
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """A listing's metadata computed from a party's rows: schema, statistics, quality, never rows.

    The shape of ``POST /datasets`` without the owner and the signature (the listing form of the
    pages reads it as an uploaded file; ``fedmarket data describe`` writes it).

    Parameters
    ----------
    data : LocalDataset
        The rows (only their statistics leave this function).
    feature_names : sequence of str
        The feature columns, in order (the label comes last, ``label``).
    name, description, license : str
        Shown to buyers and sponsors.
    tags : sequence of str
        Search tags.
    """
    rows = data.x.tolist()
    duplicates = len(rows) - len({tuple(r) for r in rows})
    return {
        "name": name,
        "description": description,
        "schema": [{"name": n, "dtype": "float"} for n in feature_names]
        + [{"name": "label", "dtype": "bool"}],
        "row_count": data.rows,
        "statistics": data.stats().to_dict(),
        "quality": {
            "missing_rate": 0.0,
            "duplicate_rate": duplicates / data.rows,
            "label_positive_rate": data.positive_rate(),
        },
        "license": license,
        "tags": list(tags),
    }


def dataset_metadata(
    data: LocalDataset, feature_names: tuple[str, ...], owner: str
) -> dict[str, Any]:
    """What a hospital publishes about its dataset: schema and statistics, never rows.

    Parameters
    ----------
    data : LocalDataset
        The hospital's rows (only their statistics leave this function).
    feature_names : tuple of str
        The feature columns.
    owner : str
        The hospital's address.
    """
    described = describe_dataset(
        data,
        feature_names,
        name=f"{data.name}: breast cancer diagnoses",
        description=(
            f"Fine-needle aspirate features of {data.rows} patients of {data.name} "
            "(Wisconsin diagnostic breast cancer, UCI, CC BY 4.0); label 1 = malignant."
        ),
        tags=["medical", TAG, "tabular", "binary-classification"],
    )
    return {**described, "owner": owner, "downloadable": False}


def design_task(
    stats: list[FeatureStats], feature_names: tuple[str, ...], *, rounds: int = 10
) -> TaskSpec:
    """The sponsor's task: an MLP whose input scaling comes from the pooled listing statistics.

    Parameters
    ----------
    stats : list of FeatureStats
        The hospitals' published statistics.
    feature_names : tuple of str
        The feature columns, in order.
    rounds : int, default 10
        Training rounds.
    """
    return TaskSpec(
        name="breast-cancer-diagnosis",
        description="Malignant vs benign across four hospitals (horizontal FL, FedAvg).",
        model=pooled_model(stats, kind="mlp", hidden=(16,), seed=7),
        train=TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4),
        rounds=rounds,
        feature_names=feature_names,
        strategy="fedavg",
        contribution="shapley-gtg",
        acceptance=dict(ACCEPTANCE),
        rewards=RewardPolicy(budget="improvement", unspent="return"),
    )


__all__ = ["ACCEPTANCE", "MODEL_LISTING", "MODEL_OUTPUT", "TAG", "dataset_metadata", "design_task"]
