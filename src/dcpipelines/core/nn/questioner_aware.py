"""The questioner-aware decoder: a frozen base LM with LoRA, optional dual feed-forward towers,
an optional questioner-ID prefix, and projection heads for the contrastive loss.

One class covers every variant of the study, so they differ only in the switches of
:class:`VariantSpec` and share data, budget and decoding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dcpipelines.core.nn.contrastive import PrototypeQueue, prototype_contrastive_loss
from dcpipelines.core.nn.lora import LoRA
from dcpipelines.core.nn.towers import DualTowerMLP, QuestionerContext, QuestionerTower


@dataclass(frozen=True)
class VariantSpec:
    """Switches of one variant (see ``parameters_questioner_aware.yml``)."""

    name: str
    train: bool = True
    questioner_tower: bool = False
    id_prefix: bool = False
    contrastive: bool = False
    within_clusters: bool = True


VARIANTS = {
    "zero_shot": VariantSpec("zero_shot", train=False),
    "blind": VariantSpec("blind"),
    "id_embedding": VariantSpec("id_embedding", id_prefix=True),
    "dual_no_cl": VariantSpec("dual_no_cl", questioner_tower=True),
    "dual_cl_no_cluster": VariantSpec("dual_cl_no_cluster", questioner_tower=True,
                                      contrastive=True, within_clusters=False),
    "full": VariantSpec("full", questioner_tower=True, contrastive=True),
}


@dataclass(frozen=True)
class AdapterSizes:
    lora_rank: int = 16
    lora_alpha: float = 8.0
    tower_rank: int = 64
    projection_dim: int = 128
    queue_size: int = 64


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


class QuestionerAwareLM(nn.Module):
    """A copy of ``base`` adapted for one variant; the base weights stay frozen."""

    def __init__(self, base: Any, spec: VariantSpec, questioners: int, clusters: int,
                 sizes: AdapterSizes, seed: int) -> None:
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
        if spec.questioner_tower:
            for name, module in list(self.lm.base_model.named_modules()):
                if name.endswith(".mlp"):
                    tower = QuestionerTower(hidden, sizes.tower_rank, questioners, self.context)
                    parent, child = self._parent(name)
                    setattr(parent, child, DualTowerMLP(module, tower))
        self.prefix = nn.Embedding(questioners, hidden) if spec.id_prefix else None
        if self.prefix is not None:
            nn.init.normal_(self.prefix.weight, std=0.02)
        self.heads = None
        if spec.contrastive:
            self.heads = nn.ModuleList([
                nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, sizes.projection_dim))
                for _ in range(2)
            ])
            groups = clusters if spec.within_clusters else 1
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
                      past: Any = None) -> tuple[torch.Tensor, Any, torch.Tensor]:
        """Last hidden states of ``ids``, the KV cache and the attention mask used.

        Without ``past``, ``mask`` covers ``ids`` and the ID prefix (if any) is put in front;
        with ``past``, ``mask`` covers everything seen so far plus ``ids``.
        """
        self.context.questioners = questioners
        embeds = self.lm.get_input_embeddings()(ids)
        first = past is None
        if self.prefix is not None and first:
            embeds = torch.cat([self.prefix(questioners)[:, None, :], embeds], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)[:, -embeds.shape[1]:]
        out = self.lm.base_model(
            inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
            past_key_values=past, use_cache=not self.training,
        )
        hidden = out.last_hidden_state
        if self.prefix is not None and first:
            hidden = hidden[:, 1:]
        return hidden, out.past_key_values, mask

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.get_output_embeddings()(hidden)

    def lm_loss(self, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
                questioners: torch.Tensor) -> torch.Tensor:
        """Next-token loss on the labelled (response) positions only."""
        hidden, _, _ = self.hidden_states(ids, mask, questioners)
        targets = labels[:, 1:]
        chosen = targets != -100
        logits = self.logits(hidden[:, :-1][chosen])
        return F.cross_entropy(logits, targets[chosen])

    def contrastive_loss(self, views: list[tuple[torch.Tensor, torch.Tensor]],
                         questioners: torch.Tensor, clusters: torch.Tensor,
                         temperature: float) -> torch.Tensor:
        """Each view's projection against the other view's prototypes, then queue update."""
        if self.heads is None:
            raise RuntimeError(f"variant {self.spec.name} has no contrastive heads")
        groups = clusters if self.spec.within_clusters else torch.zeros_like(clusters)
        projections = []
        for head, (ids, mask) in zip(self.heads, views, strict=True):
            hidden, _, _ = self.hidden_states(ids, mask, questioners)
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
            projections.append(head(pooled))
        loss = projections[0].sum() * 0.0
        for mine, other_queue in ((projections[0], self.queues[1]), (projections[1], self.queues[0])):
            prototypes, available = other_queue.prototypes()
            loss = loss + prototype_contrastive_loss(
                mine, questioners, groups, prototypes, available, temperature
            ) / 2
        for queue, z in zip(self.queues, projections, strict=True):
            queue.push(F.normalize(z, dim=-1), questioners, groups)
        return loss
