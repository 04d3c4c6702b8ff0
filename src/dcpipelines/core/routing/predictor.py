"""RouteT2I's quality predictor: a token-level transformer over the prompt with two gates and
one expert per quality dimension.

Gate 1 scores every candidate token (every real token, or only the content tokens when the
caller passes a candidate mask) and keeps the ``top_k`` key tokens of the prompt (scaled by
their gate value, so the gate learns); gate 2 weighs the kept tokens separately for each quality dimension
and feeds the weighted token summary to that dimension's expert, which predicts the quality of
the edge image and of the cloud image on that dimension. Inputs are the frozen MiniLM token
embeddings of the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dcpipelines.core.nn.fit import fit_minibatches
from dcpipelines.core.nn.packing import pack_model, unpack_model


@dataclass(frozen=True)
class PredictorSpec:
    """Sizes and training settings of the key-token predictor (the earlier gate, kept as an ablation)."""
    n_dims: int
    text_dim: int = 384
    d_model: int = 64
    heads: int = 4
    layers: int = 1
    top_k: int = 6
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    gain_weight: float = 1.0  # weight of the loss on the predicted cloud-minus-edge difference


class KeyTokenQualityPredictor(nn.Module):
    """The earlier key-token gate predictor: per-metric experts attend over the top-k content tokens."""
    def __init__(self, spec: PredictorSpec) -> None:
        super().__init__()
        self.spec = spec
        self.project = nn.Linear(spec.text_dim, spec.d_model)
        layer = nn.TransformerEncoderLayer(spec.d_model, spec.heads, 2 * spec.d_model,
                                           dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, spec.layers, enable_nested_tensor=False)
        self.key_gate = nn.Linear(spec.d_model, 1)
        self.dimension_gate = nn.Linear(spec.d_model, spec.n_dims)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(spec.d_model, spec.d_model), nn.GELU(), nn.Linear(spec.d_model, 2))
            for _ in range(spec.n_dims)
        )

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, candidates: torch.Tensor | None = None):
        """``tokens`` (B, L, text_dim), ``mask`` (B, L) True for real tokens, ``candidates``
        (B, L) the tokens the key gate may select (default: every real token). Returns quality
        (B, n_dims, 2) in (0, 1) [edge, cloud] and the per-dimension token weights (B, n_dims, L)."""
        h = self.encoder(self.project(tokens), src_key_padding_mask=~mask)
        allowed = mask if candidates is None else mask & candidates
        key_score = self.key_gate(h).squeeze(-1).masked_fill(~allowed, float("-inf"))
        k = min(self.spec.top_k, tokens.shape[1])
        top = key_score.topk(k, dim=-1).indices
        selected = allowed & torch.zeros_like(mask).scatter(1, top, True)
        h = h * torch.sigmoid(key_score.masked_fill(~allowed, 0.0)).unsqueeze(-1)
        weights = self.dimension_gate(h).transpose(1, 2).masked_fill(~selected[:, None, :], float("-inf"))
        weights = torch.softmax(weights, dim=-1)
        pooled = weights @ h  # (B, n_dims, d_model)
        out = torch.stack([expert(pooled[:, i]) for i, expert in enumerate(self.experts)], dim=1)
        return torch.sigmoid(out), weights


def train_predictor(spec: PredictorSpec, tokens: np.ndarray, mask: np.ndarray,
                    quality_edge: np.ndarray, quality_cloud: np.ndarray,
                    seed: int, candidates: np.ndarray | None = None,
                    ) -> tuple[KeyTokenQualityPredictor, list[float]]:
    """Fit the predictor to measured per-dimension qualities (N, n_dims) of both generators."""
    torch.manual_seed(seed)
    model = KeyTokenQualityPredictor(spec)
    x, m = torch.as_tensor(tokens), torch.as_tensor(mask)
    c = torch.as_tensor(mask if candidates is None else candidates)
    target = torch.as_tensor(np.stack([quality_edge, quality_cloud], -1), dtype=torch.float32)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        predicted, _ = model(x[batch], m[batch], c[batch])
        y = target[batch]
        gain_error = nn.functional.mse_loss(predicted[..., 1] - predicted[..., 0],
                                            y[..., 1] - y[..., 0])
        return nn.functional.mse_loss(predicted, y) + spec.gain_weight * gain_error

    history = fit_minibatches(model, len(x), batch_loss, epochs=spec.epochs,
                              batch_size=spec.batch_size, lr=spec.lr, seed=seed)
    return model.eval(), history


@torch.no_grad()
def predict_quality(model: KeyTokenQualityPredictor, tokens: np.ndarray, mask: np.ndarray,
                    batch_size: int = 512, candidates: np.ndarray | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted edge and cloud quality (N, n_dims) each, and token weights (N, n_dims, L)."""
    x, m = torch.as_tensor(tokens), torch.as_tensor(mask)
    c = torch.as_tensor(mask if candidates is None else candidates)
    parts = [model(x[i:i + batch_size], m[i:i + batch_size], c[i:i + batch_size])
             for i in range(0, len(x), batch_size)]
    quality = torch.cat([p[0] for p in parts]).numpy().astype(np.float64)
    weights = torch.cat([p[1] for p in parts]).numpy()
    return quality[..., 0], quality[..., 1], weights


def key_tokens(weights: np.ndarray, tokens: list[list[str]], dimension: int,
               top: int = 3) -> list[list[str]]:
    """The ``top`` highest-weighted tokens of each prompt for one dimension."""
    out = []
    for row, words in zip(weights[:, dimension], tokens, strict=True):
        ranked = np.argsort(-row[:len(words)], kind="stable")[:top]
        out.append([words[i] for i in ranked if row[i] > 0])
    return out


def pack_predictor(model: KeyTokenQualityPredictor, history: list[float]) -> dict[str, Any]:
    """The trained predictor as a plain dict (see :mod:`dcpipelines.core.nn.packing`)."""
    return pack_model(model, model.spec, history)


def unpack_predictor(packed: dict[str, Any]) -> KeyTokenQualityPredictor:
    """The predictor stored by :func:`pack_predictor`, in eval mode."""
    return unpack_model(packed, lambda spec: KeyTokenQualityPredictor(PredictorSpec(**spec)))
