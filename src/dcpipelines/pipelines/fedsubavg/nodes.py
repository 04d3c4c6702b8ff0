"""Nodes of the fedsubavg pipeline: build clients, tune and run the strategies, report.

torch and the federated engine are imported inside the functions so that importing the
pipeline stays cheap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dcpipelines.core.seeds import derive_seed, seed_list


def click_clients(click_log: pd.DataFrame, params: dict, seed: int) -> Any:
    """One client per Amazon user; each user's last interactions held out as validation
    and test; user ids for the model's user embedding table."""
    from dcpipelines.core.federated.click_clients import build_click_clients

    return build_click_clients(
        click_log, test_per_user=params["test_per_user"], max_history=params["max_history"],
        num_users=params.get("num_users"), seed=seed,
        validation_per_user=params["validation_per_user"], user_ids=params["user_embedding"],
    )


def click_data_stats(data: Any) -> dict[str, float]:
    """Counts the report needs: clients, rows, row density, samples."""
    from dcpipelines.core.federated.click_clients import ITEM_TABLE
    from dcpipelines.core.federated.clients import row_density

    return {
        "num_clients": len(data.clients),
        "num_items": data.num_items,
        "num_users": data.num_users,
        "row_density": row_density(data.clients, ITEM_TABLE, data.num_items),
        "train_samples": int(sum(c.num_samples for c in data.clients)),
        "validation_samples": int(data.validation_labels.numel()),
        "test_samples": int(data.test_labels.numel()),
    }


def _simulation_config(training: dict, seed: int) -> Any:
    from dcpipelines.core.federated import LocalConfig, SimulationConfig

    return SimulationConfig(
        rounds=training["rounds"], clients_per_round=training["clients_per_round"],
        lr=training["lr"], lr_decay=training["lr_decay"], eval_every=training["eval_every"],
        local=LocalConfig(training["local_epochs"], training["batch_size"],
                          training.get("max_local_steps")),
        seed=seed, server_momentum=training.get("server_momentum", 0.0),
    )


def _auc(logits: Any, labels: Any) -> float:
    """ROC AUC of the logits; a diverged model (non-finite logits) ranks nothing: 0.5."""
    import torch
    from sklearn.metrics import roc_auc_score

    if not bool(torch.isfinite(logits).all()):
        return 0.5
    return float(roc_auc_score(labels.numpy(), logits.numpy()))


def _click_experiment(data: Any, model: dict, training: dict) -> Any:
    """The shared set-up of every Amazon run: DIN factory, clients, AUC, gradient norm."""

    from dcpipelines.core.federated.click_clients import ITEM_TABLE, USER_TABLE
    from dcpipelines.core.federated.gradient_norm import ElementwiseGradientNorm
    from dcpipelines.core.federated.models import binary_loss
    from dcpipelines.core.federated.tuning import Experiment
    from dcpipelines.core.recsys.din import DIN

    id_fields = {ITEM_TABLE: ["item", "history"]}
    if data.num_users:
        id_fields[USER_TABLE] = ["user"]
    norm_clients = data.clients[: training["grad_norm_clients"]]
    exp = Experiment(
        lambda: DIN(data.num_items, model["embedding_dim"], model["attention_hidden"],
                    model["hidden"], num_users=data.num_users),
        data.clients, binary_loss, _auc,
        (data.validation_features, data.validation_labels), (data.test_features, data.test_labels),
        grad_norm=lambda m: ElementwiseGradientNorm(m, norm_clients, id_fields, binary_loss),
        grad_norm_every=training["grad_norm_every"],
    )
    if training.get("backend", "inprocess") == "flower":  # the same runs under Flower + Ray
        from functools import partial

        from dcpipelines.core.federated.flower_adapter import run_flower_simulation

        exp.engine = partial(run_flower_simulation, num_cpus=training.get("flower_cpus", 2),
                             ray_address=training.get("ray_address"))
    return exp


def tune_click_strategies(data: Any, model: dict, training: dict, runs: dict, grid: dict,
                          seed: int) -> tuple[pd.DataFrame, dict]:
    """Every strategy at every (client lr, server lr) of the grid at the first run seed; the
    grid table with each strategy's choice (best final validation AUC) and its chosen run."""
    from dcpipelines.core.federated.tuning import tune

    exp = _click_experiment(data, model, training)
    first = seed_list(seed, 1)[0]
    return tune(exp, runs, grid, _simulation_config(training, first))


def run_click_seeds(data: Any, model: dict, training: dict, runs: dict, variants: dict,
                    grid_table: pd.DataFrame, chosen: dict, seeds: int, seed: int
                    ) -> tuple[pd.DataFrame, dict]:
    """Each strategy's chosen setting at every run seed (the first seed's run is the tuning
    run), plus the variants at the setting of the strategy they vary (first
    ``variant_seeds`` seeds); rounds of every run and the first seed's final parameters."""
    from dcpipelines.core.federated.tuning import chosen_setting, run_one, with_setting

    exp = _click_experiment(data, model, training)
    frames, final = [], {}
    for i, run_seed in enumerate(seed_list(seed, seeds)):
        config = _simulation_config(training, run_seed)
        extra = variants if i < training["variant_seeds"] else {}
        for label, run in {**runs, **extra}.items():
            setting = chosen_setting(grid_table, run.get("setting_of", label))
            result = chosen[label] if (i == 0 and label in chosen) else run_one(
                exp, run, with_setting(config, setting))
            if i == 0:
                final[label] = result.params
            frames.append(result.rounds.assign(run=label, seed=run_seed, dropped=result.dropped,
                                               **setting))
    return pd.concat(frames, ignore_index=True), final


def global_models(data: Any, model: dict, final: dict) -> dict[str, dict]:
    """Each strategy's final global DIN (first seed) as MLflow models."""
    import torch

    from dcpipelines.core.recsys.din import DIN, PackedDIN

    out = {}
    for label, params in final.items():
        din = DIN(data.num_items, model["embedding_dim"], model["attention_hidden"],
                  model["hidden"], num_users=data.num_users)
        din.load_state_dict(params)
        packed = PackedDIN(din).eval()
        example = packed.pack({k: v[:1] for k, v in data.test_features.items()})
        out[f"fedsubavg_{label}_global_din"] = {
            "module": packed, "example_input": example.to(torch.long),
            "description": f"global DIN after {label} (first seed); input (1, 2 + history): "
                           "user id, item id, history item ids; output: click logit",
        }
    return out


def heterogeneity_sweep(params: dict, runs: dict, seed: int) -> pd.DataFrame:
    """FedAvg vs FedSubAvg (each tuned on validation) on Zipf sparse data at several skews
    and on near-dense data; final test AUC per setting and seed."""
    from dcpipelines.core.federated.heterogeneity import run_sweep

    return run_sweep(params, {k: runs[k] for k in params["strategies"]}, _auc,
                     derive_seed(seed, "fedsubavg.heterogeneity"), params["seeds"])


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
    """FedAvg and FedSubAvg on the Shakespeare role clients (one seed, untuned)."""

    from dcpipelines.core.federated.experiments import compare_strategies
    from dcpipelines.core.federated.models import NextWord, multiclass_loss
    from dcpipelines.core.federated.script_clients import accuracy

    return compare_strategies(
        lambda: NextWord(data.vocab_size, data.context, model["embedding_dim"], model["hidden"]),
        data.clients, multiclass_loss, data.test_features, data.test_labels, accuracy,
        _simulation_config(training, seed), runs, training["fedprox_mu"],
    )
