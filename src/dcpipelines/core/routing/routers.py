"""Routing decisions for RouteT2I and its baselines.

A router gives an *order* (the prompts in the order they go to the cloud) and how many of its
first prompts it is willing to send at all (``eligible``): RouteT2I sends a prompt to the cloud
only when its predicted PRS is below the threshold alpha, and alpha is capped at 1/2, so a
prompt where the edge is predicted better never goes to the cloud, even when budget is left.

Baselines trained on the same data, all over the prompt's MiniLM sentence embedding with a small
MLP (the same budget for each):

- ``routellm``: a classifier of "the cloud image is better" (mean quality), RouteLLM's BERT
  classifier in spirit; routes by the predicted probability;
- ``hybrid``: a regressor of the quality gap (cloud minus edge), Hybrid LLM's gap predictor with
  a threshold; routes by the predicted gap;
- ``zooter``: ZOOTER's reward distillation: the target is the softmax over the two models of
  their normalised qualities, the router predicts that distribution (KL loss) and routes on the
  difference of the predicted probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.nn.fit import fit_minibatches
from dcpipelines.core.routing.budget import order_by
from dcpipelines.core.routing.pareto import pareto_relative_superiority, relative_share_prs

ALPHA_CAP = 0.5
BASELINES = ("routellm", "hybrid", "zooter")


@dataclass(frozen=True)
class Routing:
    """Prompts in the order they go to the cloud, and how many of the first ones may go."""

    order: np.ndarray
    eligible: int


def uncapped(order: np.ndarray) -> Routing:
    """An order whose every prompt may go to the cloud."""
    return Routing(np.asarray(order), len(order))


def prs_routing(prs: np.ndarray, tie_break: np.ndarray | None = None, alpha_cap: float = ALPHA_CAP) -> Routing:
    """Lowest PRS first (ties broken by ``tie_break``, larger first); only prompts with PRS below
    ``alpha_cap`` may go to the cloud (the threshold alpha <= ``alpha_cap``)."""
    prs = np.asarray(prs, float)
    keys = (prs,) if tie_break is None else (prs, -np.asarray(tie_break, float))
    return Routing(order_by(*keys), int((prs < alpha_cap).sum()))


def routet2i_routing(pred_edge: np.ndarray, pred_cloud: np.ndarray, mu_edge: np.ndarray, mu_cloud: np.ndarray,
                     gamma: float, alpha_cap: float = ALPHA_CAP) -> Routing:
    """RouteT2I: the published PRS of the predicted qualities, lowest first, alpha capped."""
    prs = pareto_relative_superiority(pred_edge, pred_cloud, mu_edge, mu_cloud, gamma)
    return prs_routing(prs, pred_cloud.mean(-1) - pred_edge.mean(-1), alpha_cap)


def relative_share_routing(pred_edge: np.ndarray, pred_cloud: np.ndarray) -> Routing:
    """The earlier reading (ablation): relative-share PRS, lowest first, ties by the predicted
    mean gain, no alpha cap."""
    prs = relative_share_prs(pred_edge, pred_cloud)
    return uncapped(order_by(prs, -(pred_cloud.mean(-1) - pred_edge.mean(-1))))


def oracle_routing(gain: np.ndarray) -> Routing:
    """Largest true gain first, and only prompts the cloud improves: a budget is an upper limit,
    so the best router never spends a cloud request that lowers quality."""
    gain = np.asarray(gain, float)
    return Routing(gain_order(gain), int((gain > 0).sum()))


def gain_order(gain: np.ndarray) -> np.ndarray:
    """Largest (predicted or true) cloud advantage first."""
    return order_by(-np.asarray(gain, float))


def prompt_length_order(lengths: np.ndarray) -> np.ndarray:
    """Longest prompts first (more words, more to get wrong)."""
    return order_by(-np.asarray(lengths, float))


class PromptMLP(nn.Module):
    """Sentence embedding -> ``outputs`` numbers."""

    def __init__(self, text_dim: int = 384, hidden: int = 128, outputs: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, outputs))

    @override
    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.net(text)


def baseline_targets(kind: str, mean_edge: np.ndarray, mean_cloud: np.ndarray) -> np.ndarray:
    """Training targets of a baseline: cloud-better label, gap, or ZOOTER's distribution."""
    gap = np.asarray(mean_cloud, float) - np.asarray(mean_edge, float)
    if kind == "routellm":
        return (gap > 0).astype(np.float32)[:, None]
    if kind == "hybrid":
        return gap.astype(np.float32)[:, None]
    if kind == "zooter":
        both = np.stack([mean_edge, mean_cloud], -1)
        z = (both - both.mean()) / max(float(both.std()), 1e-9)  # qualities normalised over the training set
        z = np.exp(z - z.max(-1, keepdims=True))
        return (z / z.sum(-1, keepdims=True)).astype(np.float32)
    raise ValueError(f"unknown baseline {kind!r}; one of {BASELINES}")


def _baseline_loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "routellm":
        return nn.functional.binary_cross_entropy_with_logits(out, y)
    if kind == "hybrid":
        return nn.functional.mse_loss(out, y)
    return nn.functional.kl_div(torch.log_softmax(out, -1), y, reduction="batchmean")


def train_baseline(kind: str, text: np.ndarray, mean_edge: np.ndarray, mean_cloud: np.ndarray, seed: int,
                   epochs: int = 60, batch_size: int = 64, lr: float = 2e-3) -> tuple[PromptMLP, list[float]]:
    """One baseline router trained on the router-training prompts; the model and its loss per epoch."""
    y = torch.as_tensor(baseline_targets(kind, mean_edge, mean_cloud))
    torch.manual_seed(seed)
    model = PromptMLP(text.shape[1], outputs=y.shape[1])
    x = torch.as_tensor(text)
    history = fit_minibatches(model, len(x), lambda batch: _baseline_loss(kind, model(x[batch]), y[batch]),
                              epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    return model.eval(), history


@torch.no_grad()
def baseline_score(kind: str, model: PromptMLP, text: np.ndarray) -> np.ndarray:
    """How strongly a baseline wants each prompt in the cloud (higher goes first)."""
    out = model(torch.as_tensor(text))
    if kind == "zooter":
        p = torch.softmax(out, -1)
        return (p[:, 1] - p[:, 0]).numpy().astype(np.float64)
    return out[:, 0].numpy().astype(np.float64)
