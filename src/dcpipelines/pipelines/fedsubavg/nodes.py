"""Nodes of the fedsubavg pipeline: build clients, run the strategies, report.

torch and the federated engine are imported inside the functions so that importing the
pipeline stays cheap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def click_clients(click_log: pd.DataFrame, params: dict, seed: int) -> Any:
    """One client per Amazon user; each user's last interactions held out as test."""
    from dcpipelines.core.federated.click_clients import build_click_clients

    return build_click_clients(
        click_log, test_per_user=params["test_per_user"], max_history=params["max_history"],
        num_users=params.get("num_users"), seed=seed,
    )


def click_data_stats(data: Any) -> dict[str, float]:
    """Counts the report needs: clients, rows, row density, samples."""
    from dcpipelines.core.federated.click_clients import ITEM_TABLE
    from dcpipelines.core.federated.clients import row_density

    return {
        "num_clients": len(data.clients),
        "num_items": data.num_items,
        "row_density": row_density(data.clients, ITEM_TABLE, data.num_items),
        "train_samples": int(sum(c.num_samples for c in data.clients)),
        "test_samples": int(data.test_labels.numel()),
    }


def _simulation_config(training: dict, seed: int) -> Any:
    from dcpipelines.core.federated import LocalConfig, SimulationConfig

    return SimulationConfig(
        rounds=training["rounds"], clients_per_round=training["clients_per_round"],
        lr=training["lr"], lr_decay=training["lr_decay"], eval_every=training["eval_every"],
        local=LocalConfig(training["local_epochs"], training["batch_size"],
                          training.get("max_local_steps")),
        seed=seed,
    )


def simulate_click_strategies(
    data: Any, model: dict, training: dict, runs: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every strategy of ``runs`` on the click clients with the same seed; AUC per round."""
    import torch
    from sklearn.metrics import roc_auc_score

    from dcpipelines.core.federated.experiments import compare_strategies
    from dcpipelines.core.federated.models import binary_loss
    from dcpipelines.core.recsys.din import DIN


    def auc(logits: torch.Tensor, labels: torch.Tensor) -> float:
        return float(roc_auc_score(labels.numpy(), logits.numpy()))

    return compare_strategies(
        lambda: DIN(data.num_items, model["embedding_dim"], model["attention_hidden"],
                    model["hidden"]),
        data.clients, binary_loss, data.test_features, data.test_labels, auc,
        _simulation_config(training, seed), runs, training["fedprox_mu"],
    )


def script_clients(script_turns: pd.DataFrame, params: dict) -> Any:
    """One client per speaking role of the play; next-word samples."""
    from dcpipelines.core.federated.script_clients import build_script_clients

    return build_script_clients(
        script_turns, source=params["source"], min_lines=params["min_lines"],
        test_fraction=params["test_fraction"], vocab_size=params["vocab_size"],
        context=params["context"],
    )


def simulate_script_strategies(
    data: Any, model: dict, training: dict, runs: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same strategies on the Shakespeare role clients; next-word accuracy per round."""

    from dcpipelines.core.federated.experiments import compare_strategies
    from dcpipelines.core.federated.models import NextWord, multiclass_loss
    from dcpipelines.core.federated.script_clients import accuracy

    return compare_strategies(
        lambda: NextWord(data.vocab_size, data.context, model["embedding_dim"], model["hidden"]),
        data.clients, multiclass_loss, data.test_features, data.test_labels, accuracy,
        _simulation_config(training, seed), runs, training["fedprox_mu"],
    )
