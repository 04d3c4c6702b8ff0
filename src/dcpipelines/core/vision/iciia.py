"""The ICIIA module (intra-client, inter-image attention) and the heads it is compared with.

All models read frozen backbone features in sequences: ``(B, L, D)`` features of L images of
one client (a target and its L - 1 companions) -> ``(B, L, C)`` logits, one per image. ICIIA
lets every image attend to the other images of its client through post-norm encoder layers
whose projections (Q, K, V, output and the feed-forward pair) are partitioned; ``ff`` is the
same stack with the attention replaced by a per-image projection (no exchange between images);
the fine-tuned head and the prompt-tuned head work on one image at a time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.vision.partitioned import PartitionedLinear


@dataclass(frozen=True)
class ModuleSpec:
    """Shape of an ICIIA (or ``ff``) module on D-dimensional features."""

    layers: int = 2
    heads: int = 4
    partitions: int = 1
    shuffle: bool = True
    dropout: float = 0.1
    attention: bool = True  # False: the ``ff`` baseline

    def to_dict(self) -> dict:
        """The settings as a plain dict (for fingerprints and reports)."""
        return asdict(self)


class PartitionedSelfAttention(nn.Module):
    """Multi-head self-attention over the L images of a sequence, partitioned projections."""

    def __init__(self, dim: int, heads: int, partitions: int, shuffle: bool,
                 dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"feature width {dim} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.query, self.key, self.value, self.out = (
            PartitionedLinear(dim, dim, partitions, shuffle) for _ in range(4))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, length, dim = x.shape
        return x.view(b, length, self.heads, dim // self.heads).transpose(1, 2)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        # written out (not fused) so that FlopCounterMode sees both products on every backend
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        mixed = nn.functional.dropout(weights, self.dropout, self.training) @ v
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class PerImageProjection(nn.Module):
    """The ``ff`` replacement of attention: in-projection, ReLU, out-projection per image."""

    def __init__(self, dim: int, partitions: int, shuffle: bool) -> None:
        super().__init__()
        self.inner = PartitionedLinear(dim, dim, partitions, shuffle)
        self.out = PartitionedLinear(dim, dim, partitions, shuffle)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.inner(x)))


class EncoderLayer(nn.Module):
    """Post-norm layer: x = LN(x + mix(x)); x = LN(x + FFN(x)), FFN width = feature width."""

    def __init__(self, dim: int, spec: ModuleSpec) -> None:
        super().__init__()
        p, s = spec.partitions, spec.shuffle
        self.mix = (PartitionedSelfAttention(dim, spec.heads, p, s, spec.dropout)
                    if spec.attention else PerImageProjection(dim, p, s))
        self.ff_in, self.ff_out = PartitionedLinear(dim, dim, p, s), PartitionedLinear(dim, dim, p, s)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(spec.dropout)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.mix(x)))
        ff = self.ff_out(self.drop(torch.relu(self.ff_in(x))))
        return self.norm2(x + self.drop(ff))


class IciiaModule(nn.Module):
    """Encoder layers, ReLU and a new linear classifier: (B, L, D) features -> (B, L, C)."""

    def __init__(self, dim: int, num_classes: int, spec: ModuleSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(EncoderLayer(dim, spec) for _ in range(spec.layers))
        self.classifier = nn.Linear(dim, num_classes)

    @override
    def forward(self, features: torch.Tensor, clients: torch.Tensor | None = None) -> torch.Tensor:
        x = features
        for layer in self.layers:
            x = layer(x)
        return self.classifier(torch.relu(x))


class LinearHead(nn.Module):
    """The backbone's classifier, fine-tuned on the clients' images (one image at a time)."""

    def __init__(self, classifier: nn.Linear) -> None:
        super().__init__()
        self.classifier = nn.Linear(classifier.in_features, classifier.out_features)
        self.classifier.load_state_dict(classifier.state_dict())

    @override
    def forward(self, features: torch.Tensor, clients: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(features)


class PromptHead(nn.Module):
    """Prompt tuning: the backbone's classifier plus a learned embedding per client, mapped to
    logits and added (needs each image's client identifier, which ICIIA does not)."""

    def __init__(self, classifier: nn.Linear, num_clients: int, prompt_dim: int = 16) -> None:
        super().__init__()
        self.head = LinearHead(classifier)
        self.prompts = nn.Embedding(num_clients, prompt_dim)
        nn.init.normal_(self.prompts.weight, std=0.02)
        self.prompt_logits = nn.Linear(prompt_dim, classifier.out_features)

    @override
    def forward(self, features: torch.Tensor, clients: torch.Tensor | None = None) -> torch.Tensor:
        if clients is None:
            raise ValueError("prompt tuning needs the client identifier of every image")
        prompt = self.prompt_logits(self.prompts(clients))  # (B, C) or (B, L, C)
        if prompt.dim() < features.dim():
            prompt = prompt.unsqueeze(-2)
        return self.head(features) + prompt


class BackboneWithModule(nn.Module):
    """Backbone + ICIIA as a device runs it: the device keeps the features of its L - 1 most
    recent images (``context``); a new image goes in, its logits come out."""

    def __init__(self, backbone: nn.Module, module: IciiaModule, context: torch.Tensor) -> None:
        super().__init__()
        self.backbone, self.module = backbone, module
        self.register_buffer("context", context.detach().clone())  # (L - 1, D)

    @override
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        target = self.backbone.features(image).unsqueeze(1)  # (B, 1, D)
        context = self.context.expand(len(image), -1, -1)
        return self.module(torch.cat([target, context], dim=1))[:, 0]
