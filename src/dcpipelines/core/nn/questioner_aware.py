"""The questioner-aware decoder: a frozen base LM with LoRA and, per variant, the paper's two
streams (a questioner embedding on the specific stream's input tokens, a low-rank specific
feed-forward tower per layer), a questioner-ID prefix, or the bottleneck-shift towers; plus
the contrastive heads.

One class covers every variant of the study, so they differ only in the switches of
:class:`VariantSpec` and share data, budget and decoding.

Token roles (``roles``, same shape as the ids): 0 for special and padding tokens, 1 for the
responder's tokens (the reply), ``2 + questioner`` for the prompt's tokens.

A negative questioner means "nobody in particular": the prompt's tokens get role 0, the ID
prefix is left out and the bottleneck shift is zero (used to score a reply without who asks).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from dcpipelines.core.nn.contrastive import PrototypeQueue, prototype_contrastive_loss
from dcpipelines.core.nn.lora import LoRA
from dcpipelines.core.nn.towers import (
    DualTowerMLP,
    LowRankMLP,
    QuestionerContext,
    QuestionerTower,
    StreamMLP,
    StreamNorm,
)

RESPONDER_ROLE = 1
FIRST_QUESTIONER_ROLE = 2
CONTRAST_LOSS_CAP = 10.0  # the authors clip the contrastive loss to [0, 10]


@dataclass(frozen=True)
class VariantSpec:
    """Switches of one variant.

    ``streams``: the paper's two streams (questioner embedding on the specific stream's input,
    low-rank specific towers). ``contrastive``: prototype contrast; on the specific stream's
    representation with two projection heads (``streams``), or on two input-augmented views of
    the whole model's state (``bottleneck_tower``). ``within_clusters``: rivals are the other
    questioners of the same responder in the same question cluster (else: of the responder).
    """

    name: str
    train: bool = True
    streams: bool = False
    bottleneck_tower: bool = False
    id_prefix: bool = False
    contrastive: bool = False
    within_clusters: bool = True

    @property
    def questioner_aware(self) -> bool:
        """Whether the variant sees who asks (streams, bottleneck tower or id prefix)."""
        return self.streams or self.bottleneck_tower or self.id_prefix

    @property
    def augmented_views(self) -> bool:
        """Whether the contrast needs two input-augmented forward passes (the old design)."""
        return self.contrastive and self.bottleneck_tower


VARIANTS = {
    "zero_shot": VariantSpec("zero_shot", train=False),
    "blind": VariantSpec("blind"),
    "id_embedding": VariantSpec("id_embedding", id_prefix=True),
    "dual_no_cl": VariantSpec("dual_no_cl", streams=True),
    "dual_cl_no_cluster": VariantSpec("dual_cl_no_cluster", streams=True, contrastive=True,
                                      within_clusters=False),
    "bottleneck_shift": VariantSpec("bottleneck_shift", bottleneck_tower=True, contrastive=True),
    "full": VariantSpec("full", streams=True, contrastive=True),
}


@dataclass(frozen=True)
class AdapterSizes:
    """Sizes of the trainable parts: LoRA rank and scale, specific-tower rank, projection and prototype-queue sizes."""
    lora_rank: int = 16
    lora_alpha: float = 8.0
    tower_rank: int = 64
    projection_dim: int = 128
    queue_size: int = 64


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def token_roles(length: int, prompt_len: int, questioner: int) -> list[int]:
    """Roles of ``[CLS] prompt [SEP] reply [SEP]`` (or of the prompt alone, ``length == prompt_len``);
    a negative ``questioner`` leaves the prompt's tokens at role 0."""
    roles = [0] * length
    for i in range(1, prompt_len - 1):
        roles[i] = FIRST_QUESTIONER_ROLE + questioner if questioner >= 0 else 0
    for i in range(prompt_len, max(prompt_len, length - 1)):
        roles[i] = RESPONDER_ROLE
    return roles


class ProjectionHeads(nn.Module):
    """One linear projection per group (question cluster), picked per sample."""

    def __init__(self, groups: int, hidden: int, dim: int) -> None:
        super().__init__()
        layers = [nn.Linear(hidden, dim) for _ in range(groups)]
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    @override
    def forward(self, x: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bh,bdh->bd", x, self.weight[groups]) + self.bias[groups]


class QuestionerAwareLM(nn.Module):
    """A copy of ``base`` adapted for one variant; the base weights stay frozen.

    ``groups`` is the number of contrast groups (responders x clusters, or responders) and
    ``clusters`` the number of question clusters (one projection head pair each).
    """

    def __init__(self, base: Any, spec: VariantSpec, questioners: int, clusters: int,
                 sizes: AdapterSizes, seed: int, groups: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.spec = spec
        self.lm = copy.deepcopy(base)
        for p in self.lm.parameters():
            p.requires_grad_(False)
        self.context = QuestionerContext()
        hidden = self.lm.get_input_embeddings().weight.shape[1]
        if spec.train:
            self._add_lora(sizes)
        if spec.streams:
            self._add_streams(hidden, questioners, sizes)
        if spec.bottleneck_tower:
            for name, module in self._mlps():
                parent, child = self._parent(name)
                tower = QuestionerTower(hidden, sizes.tower_rank, questioners, self.context)
                setattr(parent, child, DualTowerMLP(module, tower))
        self.prefix = nn.Embedding(questioners, hidden) if spec.id_prefix else None
        if self.prefix is not None:
            nn.init.normal_(self.prefix.weight, std=0.02)
        if spec.contrastive:
            self._add_contrast(hidden, clusters, groups or clusters, questioners, sizes)

    # ---- building ----
    def _mlps(self) -> list[tuple[str, nn.Module]]:
        return [(n, m) for n, m in self.lm.base_model.named_modules() if n.endswith(".mlp")]

    def _add_streams(self, hidden: int, questioners: int, sizes: AdapterSizes) -> None:
        self.role_embedding = nn.Embedding(questioners + FIRST_QUESTIONER_ROLE, hidden, padding_idx=0)
        nn.init.normal_(self.role_embedding.weight, std=0.02)
        with torch.no_grad():
            self.role_embedding.weight[0].zero_()
        for name, module in self._mlps():
            parent, child = self._parent(name)
            setattr(parent, child, StreamMLP(module, LowRankMLP(hidden, sizes.tower_rank)))
        final = self.lm.base_model.ln_f
        specific = copy.deepcopy(final)
        for p in specific.parameters():
            p.requires_grad_(True)
        self.lm.base_model.ln_f = StreamNorm(final, specific)
        self.role_norm = copy.deepcopy(specific)  # the norm before the projection heads

    def _add_contrast(self, hidden: int, clusters: int, groups: int, questioners: int,
                      sizes: AdapterSizes) -> None:
        heads = clusters if self.spec.within_clusters else 1
        if self.spec.streams:  # two projection heads on one representation (multi-view)
            self.heads = nn.ModuleList(
                [ProjectionHeads(heads, hidden, sizes.projection_dim) for _ in range(2)])
        else:  # the old design: one head per augmented view
            self.heads = nn.ModuleList([
                nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, sizes.projection_dim))
                for _ in range(2)
            ])
        self.queues = nn.ModuleList([
            PrototypeQueue(groups, questioners, sizes.projection_dim, sizes.queue_size) for _ in range(2)
        ])

    def _parent(self, name: str) -> tuple[nn.Module, str]:
        *path, child = name.split(".")
        parent = self.lm.base_model
        for part in path:
            parent = getattr(parent, part)
        return parent, child

    def _add_lora(self, sizes: AdapterSizes) -> None:
        targets = [
            name for name, module in self.lm.base_model.named_modules()
            if _is_linear(module) and (".attn." in name or ".mlp." in name or ".self_attn." in name)
        ]
        for name in targets:
            parent, child = self._parent(name)
            setattr(parent, child, LoRA(getattr(parent, child), sizes.lora_rank, sizes.lora_alpha))

    # ---- forward passes ----
    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor, questioners: torch.Tensor,
                      roles: torch.Tensor | None = None, past: Any = None,
                      ) -> tuple[torch.Tensor, Any, torch.Tensor]:
        """Last hidden states of ``ids`` (the mean of the two streams' where there are two),
        the KV cache and the attention mask used.

        Without ``past``, ``mask`` covers ``ids`` and the ID prefix (if any) is put in front;
        with ``past``, ``mask`` covers everything seen so far plus ``ids``. ``roles`` (token
        roles, see the module doc) is needed by the two-stream variants. Negative questioners
        (nobody in particular) must fill the whole batch when the variant has an ID prefix.
        """
        self.context.questioners = questioners
        embeds = self.lm.get_input_embeddings()(ids)
        first = past is None
        anonymous = bool((questioners < 0).any())
        if anonymous and self.prefix is not None and not bool((questioners < 0).all()):
            raise ValueError("a batch mixes rows with and without a questioner (ID prefix variant)")
        if self.prefix is not None and first and not anonymous:
            embeds = torch.cat([self.prefix(questioners)[:, None, :], embeds], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)[:, -embeds.shape[1]:]
        model_mask = mask
        if self.spec.streams:
            if roles is None:
                raise ValueError(f"variant {self.spec.name} needs the token roles")
            embeds = torch.cat([embeds, embeds + self.role_embedding(roles)], dim=0)
            model_mask, positions = torch.cat([mask, mask]), torch.cat([positions, positions])
        out = self.lm.base_model(
            inputs_embeds=embeds, attention_mask=model_mask, position_ids=positions,
            past_key_values=past, use_cache=not self.training,
        )
        hidden = out.last_hidden_state
        if self.spec.streams:
            half = hidden.shape[0] // 2
            hidden = (hidden[:half] + hidden[half:]) / 2
        if self.prefix is not None and first and not anonymous:
            hidden = hidden[:, 1:]
        return hidden, out.past_key_values, mask

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits of hidden states, through the base model's output layer."""
        return self.lm.get_output_embeddings()(hidden)

    def lm_loss(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
                questioners: torch.Tensor, roles: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token loss on the labelled (response) positions only."""
        hidden, _, _ = self.hidden_states(ids, mask, questioners, roles)
        targets = labels[:, 1:]
        chosen = targets != -100
        logits = self.logits(hidden[:, :-1][chosen])
        return F.cross_entropy(logits, targets[chosen])

    def specific_representation(self, roles: torch.Tensor) -> torch.Tensor:
        """Mean over the reply tokens of the specific stream's last-layer state (after its own
        norm), from the latest forward pass: what the paper contrasts."""
        stash = self.lm.base_model.ln_f.last_specific
        if stash is None:
            raise RuntimeError("run a forward pass before asking for the representation")
        weights = (roles == RESPONDER_ROLE).to(stash.dtype)[..., None]
        return (self.role_norm(stash) * weights).sum(1) / weights.sum(1).clamp(min=1)

    def stream_contrastive_loss(self, representation: torch.Tensor, questioners: torch.Tensor,
                                clusters: torch.Tensor, groups: torch.Tensor,
                                temperature: float) -> torch.Tensor:
        """Multi-view contrast on one representation: each head's projection against the
        other head's prototypes within the sample's group, then the queues are updated."""
        heads = clusters if self.spec.within_clusters else torch.zeros_like(clusters)
        views = [head(representation, heads) for head in self.heads]
        return self._prototype_loss(views, questioners, groups, temperature)

    def _prototype_loss(self, views: list[torch.Tensor], questioners: torch.Tensor,
                        groups: torch.Tensor, temperature: float) -> torch.Tensor:
        loss = views[0].sum() * 0.0
        for mine, other_queue in ((views[0], self.queues[1]), (views[1], self.queues[0])):
            prototypes, available = other_queue.prototypes()
            loss = loss + prototype_contrastive_loss(
                mine, questioners, groups, prototypes, available, temperature
            ).clamp(max=CONTRAST_LOSS_CAP) / 2
        for queue, z in zip(self.queues, views, strict=True):
            queue.push(z, questioners, groups)
        return loss

    def augmented_contrastive_loss(self, views: list[tuple[torch.Tensor, torch.Tensor]],
                                   questioners: torch.Tensor, groups: torch.Tensor,
                                   temperature: float) -> torch.Tensor:
        """The old design: each input-augmented view through the whole model, mean-pooled,
        through its own head, against the other view's prototypes."""
        projections = []
        for head, (ids, mask) in zip(self.heads, views, strict=True):
            hidden, _, _ = self.hidden_states(ids, mask, questioners)
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
            projections.append(head(pooled))
        return self._prototype_loss(projections, questioners, groups, temperature)
