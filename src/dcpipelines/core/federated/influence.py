"""Fed-Influence (Xue et al., AAAI 2021): how each client moves the final federated model.

The influence of client k is ``theta_T - theta_T^{-k}``: the final model trained with every
client minus the one trained without k. We estimate ``Delta_k = theta_T^{-k} - theta_T`` during
the one real training run by linearising every round along the training path:

    theta_{t+1} = sum_i p_i u_i(theta_t)          (u_i: client i's local training, p_i = n_i / N)
    Delta_{t+1,k} = sum_{i != k} p_i^{-k} J_i(theta_t) Delta_{t,k}
                    + n_k / (N - n_k) * (theta_{t+1} - u_k(theta_t))

``J_i Delta`` is the Jacobian-vector product of client i's local training (for one local step
of gradient descent: ``(I - lr H_i) Delta``, a Hessian-vector product), computed by the client
on its own data; ``p^{-k}`` renormalises the weights without k. The second term is exact and
needs only what the server already has (the client's model and sample count). Nothing but
models, Jacobian-vector products and counts leaves a client. The cross term of second order is
dropped: on a quadratic problem (local training linear in theta) the estimate is exact.

Here every client takes part in every round (full participation) and local training is
full-batch gradient descent, so training is deterministic given the initial model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.func import grad, jvp, vmap

from dcpipelines.core.progress import progress

# loss(theta, client_data) -> scalar mean loss of one client (client_data: dict of tensors)
ClientLoss = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class FederatedProblem:
    """A federated training run small enough to retrain: stacked client data, flat params."""

    loss: ClientLoss
    client_data: dict[str, torch.Tensor]  # each (K, ...): client i's data at index i
    client_sizes: torch.Tensor  # (K,) sample counts n_i
    init: torch.Tensor  # (P,) initial model
    rounds: int
    local_steps: int
    lr: float

    @property
    def num_clients(self) -> int:
        return int(self.client_sizes.numel())


@dataclass
class InfluenceRun:
    theta: torch.Tensor  # (P,) final model trained with every client
    delta: torch.Tensor  # (K, P) estimated theta^{-k} - theta
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)


def _local_training(problem: FederatedProblem) -> Callable:
    step = grad(problem.loss)

    def train(theta: torch.Tensor, data: dict[str, torch.Tensor]) -> torch.Tensor:
        for _ in range(problem.local_steps):
            theta = theta - problem.lr * step(theta, data)
        return theta

    return train


def train(problem: FederatedProblem, sizes: torch.Tensor | None = None) -> torch.Tensor:
    """FedAvg with full participation; ``sizes`` overrides the client weights (0 = left out)."""
    sizes = problem.client_sizes if sizes is None else sizes
    weights = (sizes / sizes.sum()).to(problem.init.dtype)
    local = vmap(_local_training(problem), in_dims=(None, 0))
    theta = problem.init
    for _ in range(problem.rounds):
        theta = weights @ local(theta, problem.client_data)
    return theta


def leave_one_out(problem: FederatedProblem) -> torch.Tensor:
    """Ground truth: (K, P) ``theta^{-k} - theta`` by retraining without each client.

    Every retraining starts from the same initial model and is deterministic (full-batch
    gradient descent), i.e. the same seeds as the run with every client.
    """
    theta = train(problem)
    runs = []
    for k in range(problem.num_clients):
        sizes = problem.client_sizes.clone()
        sizes[k] = 0
        runs.append(train(problem, sizes) - theta)
    return torch.stack(runs)


def train_with_influence(problem: FederatedProblem) -> InfluenceRun:
    """One training run that also carries every client's estimated removal effect."""
    started = time.perf_counter()
    local_train = _local_training(problem)
    local = vmap(local_train, in_dims=(None, 0))

    def client_jvps(theta, data, directions):
        """One client: its local training and J_i applied to every direction (K, P)."""
        def along(v):
            return jvp(lambda th: local_train(th, data), (theta,), (v,))[1]

        return vmap(along)(directions)

    all_jvps = vmap(client_jvps, in_dims=(None, 0, None))
    n = problem.client_sizes.to(problem.init.dtype)
    total = n.sum()
    weights = n / total
    k = problem.num_clients
    theta = problem.init
    delta = torch.zeros((k, theta.numel()), dtype=theta.dtype)
    eye = torch.arange(k)
    for _ in progress(range(problem.rounds), desc="influence rounds", unit="round"):
        models = local(theta, problem.client_data)  # (K, P) the clients' uploads
        jd = all_jvps(theta, problem.client_data, delta)  # (K clients, K directions, P)
        summed = torch.einsum("i,ikp->kp", n, jd)
        jac_term = (summed - n[:, None] * jd[eye, eye]) / (total - n)[:, None]
        new_theta = weights @ models
        shift = (n / (total - n))[:, None] * (new_theta - models)
        delta = jac_term + shift
        theta = new_theta
    return InfluenceRun(theta, delta, time.perf_counter() - started)


def timed_train(problem: FederatedProblem) -> tuple[torch.Tensor, float]:
    """Train once without influence tracking; the final parameters and the wall time."""
    started = time.perf_counter()
    theta = train(problem)
    return theta, time.perf_counter() - started


def loss_change(
    loss_at: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, delta: torch.Tensor
) -> torch.Tensor:
    """First-order change of a loss when the model moves by each row of ``delta``."""
    g = grad(loss_at)(theta)
    return delta @ g


def true_loss_change(
    loss_at: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, delta: torch.Tensor
) -> torch.Tensor:
    """Exact change of the loss at ``theta + delta_k`` for every k."""
    base = loss_at(theta)
    return torch.stack([loss_at(theta + d) - base for d in delta])
