"""RouteT2I's published quality predictor: a token-selection gate and a dual gate per quality
metric, one prediction head per metric.

Over the prompt's tokens ``T`` (frozen MiniLM token embeddings, projected and passed through one
transformer layer):

- **token selection**: one expert embedding ``E_i`` per quality metric; the gate
  ``A = softmax(T E^T)`` over the tokens, restricted to the ``top_k`` tokens of each expert;
- **dual gate**: positive and negative low-rank projections ``P_i+``, ``P_i-`` (d x l) with a
  scoring matrix ``S_i`` (l x h) shared by both: ``T+ = T P_i+ S_i``, ``T- = T P_i- S_i``; each
  token contributes ``sigmoid(T+ - T-)`` (how much more it speaks for than against quality on
  that metric), weighted by the gate;
- **heads**: one per metric, the pooled contribution -> that metric's term of the PRS, the
  normalised distance ``D_i = sigmoid((q_edge_i - q_cloud_i) / (Gamma |mu_edge_i - mu_cloud_i|))``
  in (0, 1) (``target="distances"``, the default: the PRS is then the weighted sum of the heads'
  outputs, an estimate of the expected PRS given the prompt), or the quality of the edge image and
  of the cloud image on that metric (``target="qualities"``: the PRS is then computed from the
  predicted qualities).

The paper's ablations are switches of :class:`DualGateSpec`: ``multi_metric=False`` (one expert
predicting the mean quality), ``token_selection=False`` (the gate weighs every candidate token),
``dual_gate=False`` (one projection: ``sigmoid(T P_i S_i)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.nn.fit import fit_minibatches
from dcpipelines.core.nn.packing import pack_model, unpack_model

TARGETS = ("distances", "qualities")


@dataclass(frozen=True)
class DualGateSpec:
    """Sizes, switches (the paper's ablations) and training settings of the dual-gate predictor."""
    n_dims: int
    text_dim: int = 384
    d_model: int = 64
    heads: int = 4
    layers: int = 1
    rank: int = 16          # l: width of the positive/negative low-rank projections
    score_dim: int = 16     # h: width of the shared scoring matrix's output
    top_k: int = 6          # tokens each expert keeps
    multi_metric: bool = True
    token_selection: bool = True
    dual_gate: bool = True
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    gain_weight: float = 1.0  # weight of the loss on the predicted cloud-minus-edge difference (qualities)
    target: str = "distances"  # what a head predicts: "distances" (D_i of the PRS) or "qualities" (edge, cloud)
    prs_gamma: float = 1.0  # Gamma of the D_i targets

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"dual gate target must be one of {TARGETS}, got {self.target!r}")

    @property
    def n_outputs(self) -> int:
        """Outputs of a head: D_i, or the edge's and the cloud's quality."""
        return 1 if self.target == "distances" else 2

    @property
    def n_experts(self) -> int:
        """One expert per quality metric, or one for the mean quality."""
        return self.n_dims if self.multi_metric else 1


class DualGateQualityPredictor(nn.Module):
    """The published predictor: token-selection gate, positive and negative low-rank projections with a shared scoring matrix, one head per quality metric."""
    def __init__(self, spec: DualGateSpec) -> None:
        super().__init__()
        self.spec = spec
        e, d = spec.n_experts, spec.d_model
        self.project = nn.Linear(spec.text_dim, d)
        layer = nn.TransformerEncoderLayer(d, spec.heads, 2 * d, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, spec.layers, enable_nested_tensor=False)
        self.experts = nn.Parameter(torch.randn(e, d) / d ** 0.5)
        self.positive = nn.Parameter(torch.randn(e, d, spec.rank) / d ** 0.5)
        self.negative = nn.Parameter(torch.randn(e, d, spec.rank) / d ** 0.5) if spec.dual_gate else None
        self.scoring = nn.Parameter(torch.randn(e, spec.rank, spec.score_dim) / spec.rank ** 0.5)
        self.head_weight = nn.Parameter(torch.randn(e, spec.score_dim, spec.n_outputs) / spec.score_dim ** 0.5)
        self.head_bias = nn.Parameter(torch.zeros(e, spec.n_outputs))

    def gate(self, h: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """``A = softmax(T E^T)`` per expert over the allowed tokens, top-k only: (B, E, L)."""
        logits = torch.einsum("bld,ed->bel", h, self.experts).masked_fill(~allowed[:, None, :], float("-inf"))
        if self.spec.token_selection:
            k = min(self.spec.top_k, logits.shape[-1])
            keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(k, dim=-1).indices, True)
            logits = logits.masked_fill(~keep, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, candidates: torch.Tensor | None = None):
        """``tokens`` (B, L, text_dim), ``mask`` (B, L) True for real tokens, ``candidates`` (B, L)
        the tokens the gate may select. Returns the heads' outputs (B, E, K) in (0, 1) (K = 1: D_i;
        K = 2: [edge, cloud] quality) and the gate weights (B, E, L)."""
        h = self.encoder(self.project(tokens), src_key_padding_mask=~mask)
        allowed = mask if candidates is None else mask & candidates
        weights = self.gate(h, allowed)
        # T+ - T- = T P+ S - T P- S = T (P+ - P-) S: one (d x h) map per metric, applied to all
        # tokens in one matrix product (the same sums as the two three-way products, regrouped)
        projection = self.positive - self.negative if self.negative is not None else self.positive
        per_metric = torch.bmm(projection, self.scoring)  # (E, d, h)
        e, d, width = per_metric.shape
        logits = h @ per_metric.permute(1, 0, 2).reshape(d, e * width)  # (B, L, E * h)
        contribution = torch.sigmoid(logits).view(*h.shape[:2], e, width)
        pooled = torch.einsum("bel,bleh->beh", weights, contribution)
        out = torch.einsum("beh,eho->beo", pooled, self.head_weight) + self.head_bias
        return torch.sigmoid(out), weights


def targets(quality_edge: np.ndarray, quality_cloud: np.ndarray, spec: DualGateSpec) -> np.ndarray:
    """(N, E, K) training targets. Distances: the published ``D_i`` of every metric, with ``mu``
    the two sides' mean qualities over these prompts, or (one expert) their mean, the PRS with
    uniform weights. Qualities: both sides' per-metric qualities, or their mean (one expert)."""
    if spec.target == "distances":
        from dcpipelines.core.routing.pareto import normalised_distances

        d = normalised_distances(quality_edge, quality_cloud, quality_edge.mean(0), quality_cloud.mean(0),
                                 spec.prs_gamma)
        return (d if spec.multi_metric else d.mean(1, keepdims=True))[..., None]
    target = np.stack([quality_edge, quality_cloud], -1)
    return target if spec.multi_metric else target.mean(1, keepdims=True)


def train_dual_gate(spec: DualGateSpec, tokens: np.ndarray, mask: np.ndarray, quality_edge: np.ndarray,
                    quality_cloud: np.ndarray, seed: int, candidates: np.ndarray | None = None,
                    ) -> tuple[DualGateQualityPredictor, list[float]]:
    """Fit the predictor to measured per-metric qualities (N, n_dims) of both generators (through
    :func:`targets`); returns it and the loss of every epoch."""
    torch.manual_seed(seed)
    model = DualGateQualityPredictor(spec)
    x, m = torch.as_tensor(tokens), torch.as_tensor(mask)
    c = torch.as_tensor(mask if candidates is None else candidates)
    y = torch.as_tensor(targets(quality_edge, quality_cloud, spec), dtype=torch.float32)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        predicted, _ = model(x[batch], m[batch], c[batch])
        loss = nn.functional.mse_loss(predicted, y[batch])
        if spec.target == "qualities":
            loss = loss + spec.gain_weight * nn.functional.mse_loss(predicted[..., 1] - predicted[..., 0],
                                                                    y[batch][..., 1] - y[batch][..., 0])
        return loss

    history = fit_minibatches(model, len(x), batch_loss, epochs=spec.epochs, batch_size=spec.batch_size,
                              lr=spec.lr, seed=seed)
    return model.eval(), history


@torch.no_grad()
def predict_dual_gate(model: DualGateQualityPredictor, tokens: np.ndarray, mask: np.ndarray,
                      candidates: np.ndarray | None = None, batch_size: int = 512,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The heads' outputs (N, E, K) (see :meth:`DualGateQualityPredictor.forward`) and gate
    weights (N, E, L)."""
    x, m = torch.as_tensor(tokens), torch.as_tensor(mask)
    c = torch.as_tensor(mask if candidates is None else candidates)
    parts = [model(x[i:i + batch_size], m[i:i + batch_size], c[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    outputs = torch.cat([p[0] for p in parts]).numpy().astype(np.float64)
    return outputs, torch.cat([p[1] for p in parts]).numpy()


def pack_dual_gate(model: DualGateQualityPredictor, history: list[float]) -> dict[str, Any]:
    """The trained predictor as a plain dict (see :mod:`dcpipelines.core.nn.packing`)."""
    return pack_model(model, model.spec, history)


def unpack_dual_gate(packed: dict[str, Any]) -> DualGateQualityPredictor:
    """The predictor stored by :func:`pack_dual_gate`, in eval mode."""
    return unpack_model(packed, lambda spec: DualGateQualityPredictor(DualGateSpec(**spec)))


class ServedPredictor(nn.Module):
    """The predictor with one input, for serving and model registries: zero-padded token
    embeddings (B, L, text_dim) -> the heads' outputs (B, E, K). Real tokens are the non-zero
    rows; every real token is a gate candidate (the content-word mask needs the token strings)."""

    def __init__(self, predictor: DualGateQualityPredictor) -> None:
        super().__init__()
        self.predictor = predictor

    @override
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = tokens.abs().sum(-1) > 0
        outputs, _ = self.predictor(tokens, mask)
        return outputs
