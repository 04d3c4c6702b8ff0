"""Prototype contrast within question clusters (the questioner-aware method's auxiliary loss).

A memory queue keeps the latest projections per (cluster, questioner); a prototype is the
mean of its queue. A sample's projection is pulled towards its own questioner's prototype and
pushed from the other questioners' prototypes of the same cluster (cosine logits over a
temperature); other clusters' prototypes take no part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def prototype_contrastive_loss(
    projections: torch.Tensor,
    questioners: torch.Tensor,
    clusters: torch.Tensor,
    prototypes: torch.Tensor,
    available: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Cross-entropy of each projection against the prototypes of its own cluster.

    projections (B, D); questioners, clusters (B,); prototypes (C, Q, D); available (C, Q)
    says which prototypes exist. Samples whose own prototype is missing, or that have no rival
    prototype in their cluster, are left out; with none left the loss is 0 (with a gradient).
    """
    own_available = available[clusters, questioners]
    rivals = available[clusters].sum(1) >= 2
    keep = own_available & rivals
    if not bool(keep.any()):
        return projections.sum() * 0.0
    z = F.normalize(projections[keep], dim=-1)
    protos = F.normalize(prototypes[clusters[keep]], dim=-1)  # (b, Q, D)
    logits = torch.einsum("bd,bqd->bq", z, protos) / temperature
    logits = logits.masked_fill(~available[clusters[keep]], float("-inf"))
    return F.cross_entropy(logits, questioners[keep])


class PrototypeQueue(nn.Module):
    """A FIFO of the last ``size`` projections per (cluster, questioner); prototypes = means
    (kept as running sums, so a prototype costs nothing to read)."""

    def __init__(self, clusters: int, questioners: int, dim: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("memory", torch.zeros(clusters, questioners, size, dim))
        self.register_buffer("total", torch.zeros(clusters, questioners, dim))
        self.register_buffer("count", torch.zeros(clusters, questioners, dtype=torch.long))

    @torch.no_grad()
    def push(self, projections: torch.Tensor, questioners: torch.Tensor, clusters: torch.Tensor) -> None:
        """Append projections to their (cluster, questioner) queues, overwriting the oldest."""
        for z, q, c in zip(projections.detach(), questioners.tolist(), clusters.tolist(), strict=True):
            slot = int(self.count[c, q]) % self.size
            self.total[c, q] += z - self.memory[c, q, slot]
            self.memory[c, q, slot] = z
            self.count[c, q] += 1

    def prototypes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per (cluster, questioner) mean of the stored projections, and which ones hold any."""
        filled = self.count.clamp(max=self.size)
        return self.total / filled.clamp(min=1).unsqueeze(-1), filled > 0
