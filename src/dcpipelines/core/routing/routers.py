"""Routing orders (prompts in the order they go to the cloud) for RouteT2I and its baselines."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dcpipelines.core.routing.budget import order_by
from dcpipelines.core.routing.pareto import pareto_relative_superiority


def routet2i_order(pred_edge: np.ndarray, pred_cloud: np.ndarray) -> np.ndarray:
    """Lowest predicted PRS of the edge first; ties (e.g. many prompts where the cloud is
    predicted to dominate, PRS = 0) broken by the larger predicted mean-quality gain."""
    prs = pareto_relative_superiority(pred_edge, pred_cloud)
    gain = pred_cloud.mean(-1) - pred_edge.mean(-1)
    return order_by(prs, -gain)


def gain_order(gain: np.ndarray) -> np.ndarray:
    """Largest (predicted or true) mean-quality gain of the cloud first."""
    return order_by(-np.asarray(gain, float))


def prompt_length_order(lengths: np.ndarray) -> np.ndarray:
    """Longest prompts first (more words, more to get wrong)."""
    return order_by(-np.asarray(lengths, float))


class MeanQualityRegressor(nn.Module):
    """The single-metric baseline (in the spirit of ZOOTER's reward routing): sentence
    embedding -> mean quality of the edge and the cloud image."""

    def __init__(self, text_dim: int = 384, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, 2))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(text))


def train_mean_regressor(text: np.ndarray, mean_edge: np.ndarray, mean_cloud: np.ndarray,
                         seed: int, epochs: int = 60, batch_size: int = 64,
                         lr: float = 2e-3) -> MeanQualityRegressor:
    """The single-metric baseline: a regressor of each side's mean quality from the prompt embedding."""
    torch.manual_seed(seed)
    model = MeanQualityRegressor(text.shape[1])
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    x = torch.as_tensor(text)
    y = torch.as_tensor(np.stack([mean_edge, mean_cloud], -1), dtype=torch.float32)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order).split(batch_size):
            predicted = model(x[batch])
            target = y[batch]
            loss = nn.functional.mse_loss(predicted, target) + nn.functional.mse_loss(
                predicted[:, 1] - predicted[:, 0], target[:, 1] - target[:, 0])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@torch.no_grad()
def predicted_mean_gain(model: MeanQualityRegressor, text: np.ndarray) -> np.ndarray:
    """Predicted cloud-minus-edge mean quality per prompt."""
    out = model(torch.as_tensor(text)).numpy().astype(np.float64)
    return out[:, 1] - out[:, 0]
