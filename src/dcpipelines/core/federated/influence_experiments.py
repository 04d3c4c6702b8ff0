"""Fed-Influence experiments on digits clients: agreement with leave-one-out, debugging, cost.

Each function runs one seed and returns plain tables; the pipeline repeats them over seeds
and judges the claims on the per-seed figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from dcpipelines.core.federated import influence as fi
from dcpipelines.core.federated.digits_clients import (
    DigitsSplit,
    accuracy,
    eval_loss,
    flip_labels,
    make_problem,
    split_digits,
)


@dataclass
class Comparison:
    """Per-client agreement with leave-one-out, the final model and its per-round curve."""

    clients: pd.DataFrame
    theta: torch.Tensor
    history: pd.DataFrame


def round_history(split: DigitsSplit, model: dict, problem: fi.FederatedProblem) -> tuple:
    """Train once; the final model and test loss / accuracy after every round."""
    loss_at = eval_loss(model, split.test)
    rows: list[dict[str, float]] = []

    def record(t: int, theta: torch.Tensor) -> None:
        rows.append({"step": t + 1, "test_loss": float(loss_at(theta)),
                     "test_accuracy": accuracy(model, theta, split.test)})

    theta = fi.train(problem, on_round=record)
    return theta, pd.DataFrame(rows)


def compare_with_leave_one_out(split: DigitsSplit, model: dict, training: dict,
                               seed: int) -> Comparison:
    """Estimated vs retrained influence of every client on the parameters and the test loss."""
    problem = make_problem(split, model, training, seed)
    fi.timed_train(problem)  # warm-up: the first call pays torch.func's set-up
    run = fi.train_with_influence(problem)
    _, plain_seconds = fi.timed_train(problem)
    theta, history = round_history(split, model, problem)
    loo = fi.leave_one_out(problem)
    cosine, relative = fi.agreement(run.delta, loo)
    test_loss = eval_loss(model, split.test)
    clients = pd.DataFrame({
        "seed": seed,
        "client": np.arange(problem.num_clients),
        "num_samples": split.client_sizes.numpy().astype(np.int64),
        "estimated_param_norm": run.delta.norm(dim=1).numpy(),
        "true_param_norm": loo.norm(dim=1).numpy(),
        "cosine": cosine.numpy(),
        "relative_error": relative.numpy(),
        "estimated_test_loss_change": fi.loss_change(test_loss, run.theta, run.delta).numpy(),
        "true_test_loss_change": fi.true_loss_change(test_loss, theta, loo).numpy(),
        "test_accuracy": accuracy(model, theta, split.test),
        "plain_train_seconds": plain_seconds,
        "influence_train_seconds": run.seconds,
    })
    return Comparison(clients, theta, history)


def debug_ranking(split: DigitsSplit, corrupted: list[int], fraction: float, model: dict,
                  training: dict, seed: int, random_seed: int) -> pd.DataFrame:
    """Flip a ``fraction`` of the labels of ``corrupted`` clients; rank every client by the
    estimated change of the validation loss when removed (most negative first).

    ``random_rank`` is a random ranking (from ``random_seed``) of the same clients (the debugging baseline).
    """
    bad = flip_labels(split, corrupted, fraction, seed)
    run = fi.train_with_influence(make_problem(bad, model, training, seed))
    change = fi.loss_change(eval_loss(model, bad.val), run.theta, run.delta).numpy()
    order = np.argsort(change, kind="stable")
    random_rank = np.random.default_rng(random_seed).permutation(len(order)) + 1
    return pd.DataFrame({
        "seed": seed, "rank": np.arange(1, len(order) + 1), "client": order,
        "estimated_val_loss_change": change[order],
        "num_samples": split.client_sizes.numpy()[order].astype(np.int64),
        "random_rank": random_rank[order],
        "corrupted": np.isin(order, corrupted),
    })


def precision_at_k(ranked_clients: np.ndarray, corrupted: np.ndarray, k: int) -> float:
    """Share of the first ``k`` ranked clients that are corrupted."""
    return float(np.isin(np.asarray(ranked_clients)[:k], corrupted).mean())


def cost_point(digits: pd.DataFrame, num_clients: int, sweep: dict, seed: int) -> dict:
    """CPU time and FLOPs of a plain run, the run with estimation (every client, and a
    tracked subset) and leave-one-out retraining (K + 1 runs) at ``num_clients`` clients.

    FLOPs are those of the matrix products (torch's flop counter), counted on one round and
    scaled: every round costs the same for the same number of participants.
    """
    split = split_digits(digits, num_clients=num_clients, alpha=sweep["alpha"],
                         val_fraction=sweep["val_fraction"],
                         test_fraction=sweep["test_fraction"], seed=seed)
    training = {**sweep["training"],
                "clients_per_round": max(1, round(sweep["participation"] * num_clients))}
    problem = make_problem(split, sweep["model"], training, seed)
    subset = list(range(min(int(sweep["tracked_clients"]), num_clients)))
    fi.train(problem)  # warm-up
    jobs = {"plain": lambda: fi.train(problem),
            "estimation": lambda: fi.train_with_influence(problem),
            "subset_estimation": lambda: fi.train_with_influence(problem, subset),
            "leave_one_out": lambda: fi.leave_one_out(problem)}
    out: dict[str, float] = {"num_clients": num_clients,
                             "clients_per_round": training["clients_per_round"],
                             "tracked_clients": len(subset)}
    results = {}
    for name, job in jobs.items():
        started = time.process_time()
        results[name] = job()
        out[f"{name}_cpu_seconds"] = time.process_time() - started
    out.update(_flops(problem, subset))
    loo = results["leave_one_out"]
    out["spearman"] = _spearman(results["estimation"].delta.norm(dim=1), loo.norm(dim=1))
    cosine, _ = fi.agreement(results["estimation"].delta, loo)
    out["cosine"] = float(cosine.mean())
    return out


def _flops(problem: fi.FederatedProblem, subset: list[int]) -> dict[str, float]:
    """FLOPs of the four runs of :func:`cost_point` from one counted round of each."""
    one = replace(problem, rounds=1)
    rounds = problem.rounds
    per_round = fi.count_flops(lambda: fi.train(one))
    m = len(fi.schedule(one)[0].clients)
    # without k, each round where k takes part trains one client fewer
    presence = sum(len(plan.clients) for plan in fi.schedule(problem))
    loo = rounds * per_round + (problem.num_clients * rounds * m - presence) * per_round / m
    return {"plain_flops": rounds * per_round,
            "estimation_flops": rounds * fi.count_flops(lambda: fi.train_with_influence(one)),
            "subset_estimation_flops":
                rounds * fi.count_flops(lambda: fi.train_with_influence(one, subset)),
            "leave_one_out_flops": loo}


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a.numpy(), b.numpy())[0])
