"""Fed-Influence (Xue et al., AAAI 2021): how each client moves the final federated model.

The influence of client k is ``theta_T - theta_T^{-k}``: the final model trained with every
client minus the one trained without k (same initial model, same client samples and batches,
k simply absent). We estimate ``Delta_k = theta_T^{-k} - theta_T`` during the one real training
run by linearising every round along the training path. With S_t the clients of round t,
N_S their samples and u_i client i's local training:

    theta_{t+1} = sum_{i in S_t} (n_i / N_S) u_i(theta_t)
    Delta_{t+1,k} = sum_{i in S_t, i != k} p_i^{-k} J_i(theta_t) Delta_{t,k}
                    + [k in S_t] n_k / (N_S - n_k) * (theta_{t+1} - u_k(theta_t))

``J_i Delta`` is the Jacobian-vector product of client i's local training (for one local step
``(I - lr H_i) Delta``, a Hessian-vector product on the step's batch), computed by the client
on its own data; ``p^{-k}`` renormalises the round's weights without k. The second term is
exact and needs only what the server already has (the client's model and sample count).
Nothing but models, Jacobian-vector products and counts leaves a client. The cross term of
second order is dropped: when local training is linear in theta the estimate is exact.

Participation (``clients_per_round``) and local mini-batches (``batch_size``) follow a schedule
drawn once from ``schedule_seed``; leave-one-out retraining replays the same schedule. Only
the clients in ``tracked`` need to be followed: the rows of Delta are independent, so tracking
t of K clients costs t (not K) Jacobian-vector products per participating client and step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.func import grad, jvp, vmap

from dcpipelines.core.progress import progress

# loss(theta, client_data) -> scalar mean loss of one client (client_data: dict of tensors)
ClientLoss = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
# on_round(round_index, theta after the round): per-round evaluation hook
RoundHook = Callable[[int, torch.Tensor], None]


@dataclass
class FederatedProblem:
    """A federated training run small enough to retrain: stacked client data, flat params.

    ``clients_per_round`` None: every client takes part in every round. ``batch_size`` None:
    full-batch local gradient descent; otherwise each local step uses ``batch_size`` of the
    client's samples drawn without replacement (the data must then hold a ``mask`` (K, n_max)
    of real samples, and the loss must weight samples by ``data["mask"]``).
    """

    loss: ClientLoss
    client_data: dict[str, torch.Tensor]  # each (K, ...): client i's data at index i
    client_sizes: torch.Tensor  # (K,) sample counts n_i
    init: torch.Tensor  # (P,) initial model
    rounds: int
    local_steps: int
    lr: float
    clients_per_round: int | None = None
    batch_size: int | None = None
    schedule_seed: int = 0

    @property
    def num_clients(self) -> int:
        """The number of clients K."""
        return int(self.client_sizes.numel())


@dataclass(frozen=True)
class RoundPlan:
    """One round of the schedule: the participating clients and their local batch masks."""

    clients: torch.Tensor  # (m,) sorted client indices
    batches: torch.Tensor | None  # (m, local_steps, n_max) 0/1 masks, None for full batch


@dataclass
class InfluenceRun:
    """One run with influence estimation: the final model, each tracked client's estimated parameter difference, and the wall time."""
    theta: torch.Tensor  # (P,) final model trained with every client
    delta: torch.Tensor  # (t, P) estimated theta^{-k} - theta of each tracked client
    seconds: float
    tracked: list[int] = field(default_factory=list)


def schedule(problem: FederatedProblem) -> list[RoundPlan]:
    """The participation and batch plan of every round, drawn from ``schedule_seed``."""
    g = torch.Generator().manual_seed(int(problem.schedule_seed))
    k = problem.num_clients
    m = k if problem.clients_per_round is None else min(int(problem.clients_per_round), k)
    plans = []
    for _ in range(problem.rounds):
        clients = torch.arange(k) if m == k else torch.randperm(k, generator=g)[:m].sort().values
        plans.append(RoundPlan(clients, _batch_masks(problem, clients, g)))
    return plans


def _batch_masks(problem: FederatedProblem, clients: torch.Tensor,
                 g: torch.Generator) -> torch.Tensor | None:
    """Per client and local step, a mask of ``batch_size`` of its real samples."""
    if problem.batch_size is None:
        return None
    if "mask" not in problem.client_data:
        raise ValueError("mini-batch local SGD needs client_data['mask'] (K, n_max) of real samples")
    valid = problem.client_data["mask"][clients].bool()  # (m, n_max)
    scores = torch.rand((len(clients), problem.local_steps, valid.shape[1]), generator=g)
    scores = scores.masked_fill(~valid[:, None, :], 2.0)  # padding sorts last
    take = min(int(problem.batch_size), valid.shape[1])
    picked = scores.argsort(dim=-1)[..., :take]
    masks = torch.zeros_like(scores).scatter_(-1, picked, 1.0)
    return masks * valid[:, None, :].to(masks.dtype)


def _local_training(problem: FederatedProblem) -> Callable:
    step = grad(problem.loss)

    def train(theta: torch.Tensor, data: dict[str, torch.Tensor],
              batches: torch.Tensor | None = None) -> torch.Tensor:
        for s in range(problem.local_steps):
            d = data if batches is None else {**data, "mask": batches[s]}
            theta = theta - problem.lr * step(theta, d)
        return theta

    return train


def _cohort(problem: FederatedProblem, plan: RoundPlan, keep: torch.Tensor | None = None):
    """The round's clients (optionally only those with ``keep``), their data and batches."""
    clients, batches = plan.clients, plan.batches
    if keep is not None:
        clients, batches = clients[keep], None if batches is None else batches[keep]
    data = {name: value[clients] for name, value in problem.client_data.items()}
    return clients, data, batches


def _run_local(local_train: Callable, theta: torch.Tensor, data: dict, batches) -> torch.Tensor:
    if batches is None:
        return vmap(local_train, in_dims=(None, 0))(theta, data)
    return vmap(local_train, in_dims=(None, 0, 0))(theta, data, batches)


def train(problem: FederatedProblem, sizes: torch.Tensor | None = None,
          on_round: RoundHook | None = None, plans: list[RoundPlan] | None = None) -> torch.Tensor:
    """FedAvg over the schedule; ``sizes`` overrides the client weights (0 = left out).

    A left-out client does not train; a round whose clients are all left out leaves the
    model unchanged.
    """
    sizes = problem.client_sizes if sizes is None else sizes
    plans = schedule(problem) if plans is None else plans
    local_train = _local_training(problem)
    theta = problem.init
    for t, plan in enumerate(plans):
        keep = sizes[plan.clients] > 0
        if bool(keep.any()):
            clients, data, batches = _cohort(problem, plan, None if bool(keep.all()) else keep)
            n = sizes[clients].to(theta.dtype)
            theta = (n / n.sum()) @ _run_local(local_train, theta, data, batches)
        if on_round is not None:
            on_round(t, theta)
    return theta


def leave_one_out(problem: FederatedProblem, clients: Sequence[int] | None = None) -> torch.Tensor:
    """Ground truth: (t, P) ``theta^{-k} - theta`` by retraining without each client k.

    Every retraining starts from the same initial model and replays the same schedule
    (participants and batches), i.e. the same seeds as the run with every client.
    """
    plans = schedule(problem)
    theta = train(problem, plans=plans)
    clients = range(problem.num_clients) if clients is None else clients
    runs = []
    for k in clients:
        sizes = problem.client_sizes.clone()
        sizes[k] = 0
        runs.append(train(problem, sizes, plans=plans) - theta)
    return torch.stack(runs)


def train_with_influence(problem: FederatedProblem,
                         tracked: Sequence[int] | None = None) -> InfluenceRun:
    """One training run that also carries the estimated removal effect of each tracked client."""
    started = time.perf_counter()
    local_train = _local_training(problem)
    tracked = list(range(problem.num_clients)) if tracked is None else [int(k) for k in tracked]
    track = torch.tensor(tracked, dtype=torch.long)
    n_all = problem.client_sizes.to(problem.init.dtype)
    theta = problem.init
    delta = torch.zeros((len(tracked), theta.numel()), dtype=theta.dtype)
    for plan in progress(schedule(problem), desc="influence rounds", unit="round"):
        clients, data, batches = _cohort(problem, plan)
        models = _run_local(local_train, theta, data, batches)  # (m, P) the clients' uploads
        jd = _client_jvps(local_train, theta, data, batches, delta)  # (m, t, P)
        delta, theta = _update_delta(theta, delta, models, jd, n_all, clients, track)
    return InfluenceRun(theta, delta, time.perf_counter() - started, tracked)


def _client_jvps(local_train: Callable, theta: torch.Tensor, data: dict, batches,
                 directions: torch.Tensor) -> torch.Tensor:
    """Every participating client's J_i applied to every tracked direction: (m, t, P)."""
    def one_client(d, b):
        def along(v):
            return jvp(lambda th: local_train(th, d, b), (theta,), (v,))[1]

        return vmap(along)(directions)

    if batches is None:
        return vmap(lambda d: one_client(d, None))(data)
    return vmap(one_client)(data, batches)


def _update_delta(theta, delta, models, jd, n_all, clients, track):
    """Server side of one round: the new global model and every tracked Delta_k."""
    n = n_all[clients]
    total = n.sum()
    new_theta = (n / total) @ models
    position = torch.full((n_all.numel(),), -1, dtype=torch.long)
    position[clients] = torch.arange(len(clients))
    pos = position[track]  # where each tracked client sits in the round (-1: absent)
    present = pos >= 0
    own_n = torch.where(present, n_all[track], torch.zeros_like(n_all[track]))
    safe = pos.clamp(min=0)
    own_jvp = jd[safe, torch.arange(len(track))]  # (t, P)
    summed = torch.einsum("i,ikp->kp", n, jd) - own_n[:, None] * own_jvp
    rest = total - own_n  # samples of the round without k
    alone = rest <= 0  # k was the round's only client: without k nothing moves
    rest_safe = torch.where(alone, torch.ones_like(rest), rest)
    shift = (own_n / rest_safe)[:, None] * (new_theta - models[safe])
    new_delta = summed / rest_safe[:, None] + shift
    kept = theta + delta - new_theta
    return torch.where(alone[:, None], kept, new_delta), new_theta


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


def agreement(estimated: torch.Tensor, true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per client: cosine similarity and relative error ||est - true|| / ||true|| of the rows."""
    cosine = torch.nn.functional.cosine_similarity(estimated, true, dim=1)
    relative = (estimated - true).norm(dim=1) / true.norm(dim=1).clamp(min=1e-12)
    return cosine, relative


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of the matrix products ``fn`` runs (torch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())
