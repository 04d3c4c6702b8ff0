"""Per-user embedding distributions kept on the device, learnt against a frozen cloud model.

Every upload carries a fresh draw from its user's distribution instead of a user id, so no
embedding maps one-to-one to a user. Three kinds share one interface (parameters with a
leading user axis, ``sample(users)``, ``regulariser()``):

- :class:`BetaEmbeddings`: Beta(alpha, beta) per dimension, alpha starting at 2 and beta at 5;
  the closeness regulariser is the KL divergence to that common starting distribution, which
  each device can compute alone and which pulls all users' distributions together;
- :class:`GaussianEmbeddings`: N(mu, sigma) per dimension from mu = 0.1, sigma = 0.2, with the
  regulariser log(1/sigma) + mu^2/2 + sigma^2/2 (KL to a standard normal up to a constant);
- :class:`StaticEmbeddings`: one fixed vector per user, initialised like an embedding table
  (small random values, so no two users share one) (the trackable reference).

A user index of -1 is a user the cloud has never seen: its embedding is zero.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Beta, kl_divergence
from typing_extensions import override

from dcpipelines.core.text.prefix_lm import PrefixLM, mean_loss, sample_scores
from dcpipelines.core.text.user_training import UserSamples, keep_best, user_minibatch


class UserEmbeddings(nn.Module):
    """Base: ``num_users`` distributions over (n_prefix, dim) embeddings."""

    def __init__(self, num_users: int, n_prefix: int, dim: int) -> None:
        super().__init__()
        self.num_users, self.n_prefix, self.dim = num_users, n_prefix, dim

    def draw(self, users: torch.Tensor) -> torch.Tensor:
        """(len(users), n_prefix, dim) reparameterised draws, one per entry of ``users``."""
        raise NotImplementedError

    def regulariser(self, users: torch.Tensor) -> torch.Tensor:
        """Mean closeness penalty of the given users' distributions."""
        return torch.zeros(())

    def sample(self, users: torch.Tensor) -> torch.Tensor:
        """A fresh embedding per entry; users < 0 (never seen) get the zero embedding."""
        known = users >= 0
        out = torch.zeros(len(users), self.n_prefix, self.dim)
        if known.any():
            out = out.index_put((known.nonzero().flatten(),), self.draw(users[known]))
        return out


class BetaEmbeddings(UserEmbeddings):
    """Per-user embeddings drawn from a learned Beta distribution on every use (the anonymous variant)."""
    def __init__(self, num_users: int, n_prefix: int, dim: int, *, alpha: float = 2.0,
                 beta: float = 5.0) -> None:
        super().__init__(num_users, n_prefix, dim)
        shape = (num_users, n_prefix, dim)
        self.prior = (alpha, beta)
        self.log_alpha = nn.Parameter(torch.full(shape, float(alpha)).log())
        self.log_beta = nn.Parameter(torch.full(shape, float(beta)).log())

    def _dist(self, users: torch.Tensor) -> Beta:
        return Beta(self.log_alpha[users].exp(), self.log_beta[users].exp(), validate_args=False)

    @override
    def draw(self, users: torch.Tensor) -> torch.Tensor:
        return self._dist(users).rsample()

    @override
    def regulariser(self, users: torch.Tensor) -> torch.Tensor:
        dist = self._dist(users)
        prior = Beta(torch.full_like(dist.concentration1, self.prior[0]),
                     torch.full_like(dist.concentration0, self.prior[1]), validate_args=False)
        return kl_divergence(dist, prior).mean()


class GaussianEmbeddings(UserEmbeddings):
    """Per-user embeddings drawn from a learned Gaussian on every use."""
    def __init__(self, num_users: int, n_prefix: int, dim: int, *, mean: float = 0.1,
                 std: float = 0.2) -> None:
        super().__init__(num_users, n_prefix, dim)
        shape = (num_users, n_prefix, dim)
        self.mu = nn.Parameter(torch.full(shape, float(mean)))
        self.log_sigma = nn.Parameter(torch.full(shape, float(std)).log())

    @override
    def draw(self, users: torch.Tensor) -> torch.Tensor:
        mu, sigma = self.mu[users], self.log_sigma[users].exp()
        return mu + sigma * torch.randn_like(mu)

    @override
    def regulariser(self, users: torch.Tensor) -> torch.Tensor:
        mu, log_sigma = self.mu[users], self.log_sigma[users]
        return (-log_sigma + mu.pow(2) / 2 + (2 * log_sigma).exp() / 2).mean()


class StaticEmbeddings(UserEmbeddings):
    """One fixed learned embedding per user (the identifiable baseline)."""
    def __init__(self, num_users: int, n_prefix: int, dim: int) -> None:
        super().__init__(num_users, n_prefix, dim)
        self.vector = nn.Parameter(0.1 * torch.randn(num_users, n_prefix, dim))

    @override
    def draw(self, users: torch.Tensor) -> torch.Tensor:
        return self.vector[users]


KINDS = {"beta": BetaEmbeddings, "gaussian": GaussianEmbeddings, "static": StaticEmbeddings}


def make_embeddings(kind: str, num_users: int, model: PrefixLM) -> UserEmbeddings:
    """A fresh set of per-user distributions sized for ``model``'s user slot."""
    try:
        return KINDS[kind](num_users, model.n_prefix, model.dim)
    except KeyError:
        raise ValueError(f"unknown embedding kind {kind!r}: use one of {sorted(KINDS)}") from None


def _val_losses(model: PrefixLM, embeddings: UserEmbeddings, val: UserSamples) -> torch.Tensor:
    """Each user's mean validation loss with one fresh draw per sample."""
    with torch.no_grad():
        loss, _, count = sample_scores(model(val.inputs, embeddings.sample(val.users)), val.targets)
        totals = torch.zeros(val.num_users).index_add(0, val.users, loss)
        counts = torch.zeros(val.num_users).index_add(0, val.users, count)
    return totals / counts.clamp(min=1)


def learn_embeddings(model: PrefixLM, embeddings: UserEmbeddings, train: UserSamples,
                     val: UserSamples, *, steps: int, batch: int, lr: float,
                     closeness: float, eval_every: int, seed: int) -> UserEmbeddings:
    """Fit every user's distribution on its own samples with the cloud model frozen.

    All users step together: each step draws ``batch`` samples per user and one fresh embedding
    per sample (reparameterised, so gradients reach the distribution's parameters). Each user
    keeps the parameters with its lowest loss on its own validation samples.
    """
    torch.manual_seed(seed)  # torch.distributions draw from the global generator
    generator = torch.Generator().manual_seed(seed)
    for weight in model.parameters():
        weight.requires_grad_(False)
    model.eval()
    optimizer = torch.optim.AdamW(embeddings.parameters(), lr=lr, weight_decay=0.0)
    index, mask = train.index_matrix()
    best = {k: v.detach().clone() for k, v in embeddings.named_parameters()}
    best_loss = _val_losses(model, embeddings, val)
    for step in range(1, steps + 1):
        rows = user_minibatch(index, mask, batch, generator).flatten()
        users = train.users[rows]
        loss = mean_loss(model(train.inputs[rows], embeddings.draw(users)), train.targets[rows])
        loss = loss + closeness * embeddings.regulariser(users)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            current = _val_losses(model, embeddings, val)
            improved = current < best_loss
            keep_best(best, dict(embeddings.named_parameters()), improved)
            best_loss = torch.where(improved, current, best_loss)
    with torch.no_grad():
        for name, value in embeddings.named_parameters():
            value.copy_(best[name])
    return embeddings.requires_grad_(False)
