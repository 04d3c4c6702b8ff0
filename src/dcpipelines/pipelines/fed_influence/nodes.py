"""Nodes of the fed_influence pipeline: estimated vs leave-one-out influence, debugging, report.

torch and the federated engine are imported inside the functions to keep start-up cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.seeds import derive_seed


def digit_clients(digits: pd.DataFrame, params: dict, seed: int) -> Any:
    """Dirichlet label-skewed clients plus server-side validation and test sets."""
    from dcpipelines.core.federated.digits_clients import split_digits

    return split_digits(digits, num_clients=params["num_clients"], alpha=params["alpha"],
                        val_fraction=params["val_fraction"],
                        test_fraction=params["test_fraction"], seed=seed)


def compare_with_leave_one_out(split: Any, model: dict, training: dict, seed: int) -> pd.DataFrame:
    """Per client: estimated and true (retrained) influence on parameters and test loss."""

    from dcpipelines.core.federated import influence as fi
    from dcpipelines.core.federated.digits_clients import accuracy, eval_loss, make_problem

    problem = make_problem(split, model, training, seed)
    fi.timed_train(problem)  # warm-up: the first call pays torch.func's set-up
    run = fi.train_with_influence(problem)
    theta, plain_seconds = fi.timed_train(problem)
    loo = fi.leave_one_out(problem)
    test_loss = eval_loss(model, split.test)
    return pd.DataFrame({
        "client": np.arange(problem.num_clients),
        "num_samples": split.client_sizes.numpy().astype(np.int64),
        "estimated_param_norm": run.delta.norm(dim=1).numpy(),
        "true_param_norm": loo.norm(dim=1).numpy(),
        "estimated_test_loss_change": fi.loss_change(test_loss, run.theta, run.delta).numpy(),
        "true_test_loss_change": fi.true_loss_change(test_loss, theta, loo).numpy(),
        "test_accuracy": accuracy(model, theta, split.test),
        "plain_train_seconds": plain_seconds,
        "influence_train_seconds": run.seconds,
    })


def debug_flipped_clients(split: Any, debugging: dict, training: dict, seed: int) -> pd.DataFrame:
    """Flip the labels of k clients; rank clients by estimated effect on validation loss."""

    from dcpipelines.core.federated import influence as fi
    from dcpipelines.core.federated.digits_clients import eval_loss, flip_labels, make_problem

    rng = np.random.default_rng(derive_seed(seed, "fed_influence.corrupted_clients"))
    corrupted = sorted(rng.choice(split.client_sizes.numel(), debugging["k"], replace=False))
    bad = flip_labels(split, [int(c) for c in corrupted])
    model = debugging["model"]
    run = fi.train_with_influence(make_problem(bad, model, training, seed))
    # removing a harmful client lowers the validation loss: most negative change first
    change = fi.loss_change(eval_loss(model, bad.val), run.theta, run.delta).numpy()
    order = np.argsort(change, kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1), "client": order,
        "estimated_val_loss_change": change[order],
        "corrupted": np.isin(order, corrupted),
    })
