"""Training (PyTorch Lightning) and greedy generation for the base and questioner-aware decoders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from dcpipelines.core.nn.decoder import TextCodec
from dcpipelines.core.nn.questioner_aware import QuestionerAwareLM
from dcpipelines.core.progress import bars_shown
from dcpipelines.core.seeds import derive_seed


@dataclass(frozen=True)
class Budget:
    """The same training budget for every variant."""

    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_steps: int = 10


def encode_example(codec: TextCodec, query: str, response: str | None,
                   max_query: int, max_response: int) -> tuple[list[int], int]:
    """``[CLS] query [SEP] response [SEP]`` ids and the prompt length (query kept at its end)."""
    prompt = [codec.bos_id, *codec.encode(query)[-max_query:], codec.sep_id]
    if response is None:
        return prompt, len(prompt)
    return [*prompt, *codec.encode(response)[:max_response], codec.sep_id], len(prompt)


def pad_right(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows padded on the right to one length, and their attention mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def _scheduler(optimizer: torch.optim.Optimizer, budget: Budget) -> dict[str, Any]:
    def factor(step: int) -> float:
        if step < budget.warmup_steps:
            return (step + 1) / budget.warmup_steps
        progress = (step - budget.warmup_steps) / max(1, budget.steps - budget.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def _trainer(steps: int) -> pl.Trainer:
    return pl.Trainer(
        max_steps=steps, max_epochs=-1, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=bars_shown(), enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=True,
    )


def _loader(dataset: list, batch_size: int, collate: Any, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate,
                      generator=generator, drop_last=len(dataset) > batch_size)


# ---- pre-training the base decoder ----
class CausalLMPretraining(pl.LightningModule):
    """Next-token training of every weight of a causal LM on fixed-length token blocks."""

    def __init__(self, model: Any, budget: Budget) -> None:
        super().__init__()
        self.model = model
        self.budget = budget
        self.history: list[float] = []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.model(input_ids=batch, labels=batch).loss
        self.history.append(float(loss.detach()))
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.budget.learning_rate,
                                      weight_decay=0.01)
        return _scheduler(optimizer, self.budget)


def token_blocks(codec: TextCodec, texts: Sequence[str], block: int) -> list[torch.Tensor]:
    """The texts as one ``[CLS] text [SEP]`` stream cut into blocks of ``block`` tokens."""
    stream: list[int] = []
    for text in texts:
        stream += [codec.bos_id, *codec.encode(text), codec.sep_id]
    count = len(stream) // block
    if count == 0:
        raise ValueError(f"the pre-training corpus has {len(stream)} tokens, fewer than one block")
    return [torch.tensor(stream[i * block : (i + 1) * block]) for i in range(count)]


def pretrain(model: Any, blocks: list[torch.Tensor], budget: Budget, seed: int) -> list[float]:
    """Pre-train ``model`` in place; returns the loss per step."""
    pl.seed_everything(seed, workers=True, verbose=False)
    system = CausalLMPretraining(model, budget)
    loader = _loader(blocks, budget.batch_size, torch.stack, seed)
    _trainer(budget.steps).fit(system, loader)
    model.eval()
    return system.history


# ---- fine-tuning one variant ----
@dataclass(frozen=True)
class ContrastSettings:
    weight: float = 0.5
    temperature: float = 0.1
    mask_probability: float = 0.15
    crop_fraction: float = 0.7


class QuestionerAwareFinetuning(pl.LightningModule):
    """LM loss on the response, plus the weighted prototype contrast for contrastive variants."""

    def __init__(self, model: QuestionerAwareLM, budget: Budget, contrast: ContrastSettings,
                 codec: TextCodec, seed: int) -> None:
        super().__init__()
        self.model = model
        self.budget = budget
        self.contrast = contrast
        self.pad_id, self.unk_id = codec.pad_id, getattr(codec, "unk_id", codec.pad_id)
        self.augment_rng = torch.Generator().manual_seed(derive_seed(seed, "nn.augmentation"))
        self.history: list[dict[str, float]] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        lm = self.model.lm_loss(batch["ids"], batch["mask"], batch["labels"], batch["questioners"])
        loss, record = lm, {"lm": float(lm.detach())}
        if self.model.spec.contrastive:
            views = [self._masked(batch["ids"], batch["mask"]), self._cropped(batch["ids"], batch["mask"])]
            cl = self.model.contrastive_loss(views, batch["questioners"], batch["clusters"],
                                             self.contrast.temperature)
            loss = lm + self.contrast.weight * cl
            record["contrastive"] = float(cl.detach())
        self.history.append(record)
        return loss

    def _masked(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """View 1: a share of the tokens replaced by ``[UNK]`` (token masking)."""
        drop = torch.rand(ids.shape, generator=self.augment_rng) < self.contrast.mask_probability
        return ids.masked_fill(drop & mask.bool(), self.unk_id), mask

    def _cropped(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """View 2: a random contiguous span of each sequence (span cropping), left-aligned."""
        rows = []
        for row, length in zip(ids, mask.sum(1).tolist(), strict=True):
            keep = max(2, int(round(length * self.contrast.crop_fraction)))
            start = int(torch.randint(0, max(1, length - keep + 1), (1,), generator=self.augment_rng))
            rows.append(row[start : start + keep].tolist())
        return pad_right(rows, self.pad_id)

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.budget.learning_rate, weight_decay=0.0)
        return _scheduler(optimizer, self.budget)


def finetune(model: QuestionerAwareLM, examples: list[dict[str, Any]], codec: TextCodec,
             budget: Budget, contrast: ContrastSettings, seed: int) -> list[dict[str, float]]:
    """Train ``model``'s adapters in place on ``examples`` (ids, prompt_len, questioner,
    cluster); returns the per-step losses."""
    pl.seed_everything(seed, workers=True, verbose=False)

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, mask = pad_right([r["ids"] for r in rows], codec.pad_id)
        labels = ids.masked_fill(mask == 0, -100)
        for i, r in enumerate(rows):
            labels[i, : r["prompt_len"]] = -100
        return {
            "ids": ids, "mask": mask, "labels": labels,
            "questioners": torch.tensor([r["questioner"] for r in rows]),
            "clusters": torch.tensor([r["cluster"] for r in rows]),
        }

    system = QuestionerAwareFinetuning(model, budget, contrast, codec, seed)
    _trainer(budget.steps).fit(system, _loader(examples, budget.batch_size, collate, seed))
    model.eval()
    return system.history


# ---- generation ----
@torch.no_grad()
def generate_replies(model: QuestionerAwareLM, codec: TextCodec, prompts: list[list[int]],
             questioners: list[int], max_new_tokens: int, batch_size: int = 64,
             no_repeat_ngram: int = 3) -> list[str]:
    """Greedy replies (KV cache, left padding), with repeated n-grams blocked."""
    model.eval()
    replies: list[str] = []
    banned_always = sorted({codec.pad_id, codec.bos_id, getattr(codec, "unk_id", codec.pad_id)})
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        who = torch.tensor(questioners[start : start + batch_size])
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), codec.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(chunk):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        hidden, past, mask = model.hidden_states(ids, mask, who)
        produced = [list(p) for p in chunk]
        out: list[list[int]] = [[] for _ in chunk]
        done = torch.zeros(len(chunk), dtype=torch.bool)
        for step in range(max_new_tokens):
            logits = model.logits(hidden[:, -1]).float()
            logits[:, banned_always] = -np.inf
            if step == 0:
                logits[:, codec.sep_id] = -np.inf
            for i, seq in enumerate(produced):
                for token in _repeating(seq, no_repeat_ngram):
                    logits[i, token] = -np.inf
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, codec.pad_id), nxt)
            for i, token in enumerate(nxt.tolist()):
                if not done[i]:
                    produced[i].append(token)
                    if token != codec.sep_id:
                        out[i].append(token)
            done |= nxt == codec.sep_id
            if bool(done.all()):
                break
            mask = torch.cat([mask, (~done).long()[:, None] | (nxt == codec.sep_id).long()[:, None]], 1)
            hidden, past, mask = model.hidden_states(nxt[:, None], mask, who, past=past)
        replies += [codec.decode(o) for o in out]
    return replies


def _repeating(seq: list[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in ``seq``."""
    if n <= 0 or len(seq) < n:
        return []
    prefix = tuple(seq[-(n - 1):]) if n > 1 else ()
    return [seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == prefix]
