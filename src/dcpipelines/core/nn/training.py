"""Training (PyTorch Lightning), reply scoring and generation (greedy or sampled) for the base and questioner-aware decoders."""

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
from dcpipelines.core.nn.questioner_aware import RESPONDER_ROLE, QuestionerAwareLM, token_roles
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
        """One optimisation step: the loss of ``batch``, recorded in the history."""
        loss = self.model(input_ids=batch, labels=batch).loss
        self.history.append(float(loss.detach()))
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with the budget's learning rate and its schedule."""
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


@torch.no_grad()
def held_out_log_loss(model: Any, codec: TextCodec, texts: Sequence[str], batch_size: int = 64,
                      ) -> tuple[float, int]:
    """Summed next-token negative log-likelihood of a causal LM on ``texts`` and the number of
    tokens scored, each text scored as ``[CLS] text [SEP]`` (cut to the model's context
    length); texts are batched by length, so little goes to padding."""
    model.eval()
    total, count = 0.0, 0
    width = int(getattr(model.config, "max_position_embeddings", 0) or 10**9)
    rows = sorted(([codec.bos_id, *codec.encode(t), codec.sep_id][:width] for t in texts if t), key=len)
    for start in range(0, len(rows), batch_size):
        ids, mask = pad_right(rows[start : start + batch_size], codec.pad_id)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        total += float(torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum"))
        count += int((targets != -100).sum())
    return total, count


# ---- fine-tuning one variant ----
@dataclass(frozen=True)
class ContrastSettings:
    """Weight and temperature of the prototype contrast, and the input augmentations of the ablation."""
    weight: float = 0.5
    temperature: float = 0.1
    mask_probability: float = 0.15
    crop_fraction: float = 0.7


class QuestionerAwareFinetuning(pl.LightningModule):
    """LM loss on the response, plus the weighted prototype contrast for contrastive variants:
    on the specific stream's representation through two projection heads (the paper), or on
    two input-augmented views (the ``bottleneck_shift`` ablation)."""

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
        """One optimisation step: the loss of ``batch``, recorded in the history."""
        spec = self.model.spec
        lm = self.model.lm_loss(batch["ids"], batch["mask"], batch["labels"], batch["questioners"],
                                batch["roles"])
        loss, record = lm, {"lm": float(lm.detach())}
        if spec.contrastive and spec.streams:
            representation = self.model.specific_representation(batch["roles"])
            cl = self.model.stream_contrastive_loss(representation, batch["questioners"],
                                                    batch["clusters"], batch["groups"],
                                                    self.contrast.temperature)
        elif spec.augmented_views:
            views = [self._masked(batch["ids"], batch["mask"]), self._cropped(batch["ids"], batch["mask"])]
            cl = self.model.augmented_contrastive_loss(views, batch["questioners"], batch["groups"],
                                                       self.contrast.temperature)
        else:
            cl = None
        if cl is not None:
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
        """AdamW with the budget's learning rate and its schedule."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.budget.learning_rate, weight_decay=0.0)
        return _scheduler(optimizer, self.budget)


def collate_examples(rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """A batch of examples (ids, prompt_len, questioner, cluster, group): padded ids, mask,
    labels on the reply only, token roles and the per-row labels."""
    ids, mask = pad_right([r["ids"] for r in rows], pad_id)
    labels = ids.masked_fill(mask == 0, -100)
    roles = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        labels[i, : r["prompt_len"]] = -100
        roles[i, : len(r["ids"])] = torch.tensor(token_roles(len(r["ids"]), r["prompt_len"], r["questioner"]))
    return {
        "ids": ids, "mask": mask, "labels": labels, "roles": roles,
        "questioners": torch.tensor([r["questioner"] for r in rows]),
        "clusters": torch.tensor([r["cluster"] for r in rows]),
        "groups": torch.tensor([r.get("group", r["cluster"]) for r in rows]),
    }


def finetune(model: QuestionerAwareLM, examples: list[dict[str, Any]], codec: TextCodec,
             budget: Budget, contrast: ContrastSettings, seed: int) -> list[dict[str, float]]:
    """Train ``model``'s adapters in place on ``examples`` (ids, prompt_len, questioner,
    cluster, optional contrast group); returns the per-step losses."""
    pl.seed_everything(seed, workers=True, verbose=False)
    system = QuestionerAwareFinetuning(model, budget, contrast, codec, seed)
    loader = _loader(examples, budget.batch_size, lambda rows: collate_examples(rows, codec.pad_id), seed)
    _trainer(budget.steps).fit(system, loader)
    model.eval()
    return system.history


@torch.no_grad()
def reply_log_probs(model: QuestionerAwareLM, codec: TextCodec, examples: list[dict[str, Any]],
                    batch_size: int = 64) -> tuple[list[float], list[int]]:
    """Summed log-probability of each example's reply given its prompt and questioner (teacher
    forcing) and its number of reply tokens. An example whose questioner is negative is scored
    without any questioner (see :meth:`QuestionerAwareLM.hidden_states`)."""
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["ids"]))  # little padding
    sums, counts = [0.0] * len(examples), [0] * len(examples)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate_examples([examples[i] for i in chunk], codec.pad_id)
        hidden, _, _ = model.hidden_states(batch["ids"], batch["mask"], batch["questioners"], batch["roles"])
        targets = batch["labels"][:, 1:]
        chosen = targets != -100
        logp = torch.log_softmax(model.logits(hidden[:, :-1][chosen]).float(), dim=-1)
        picked = torch.zeros(targets.shape, dtype=logp.dtype)
        picked[chosen] = logp.gather(-1, targets[chosen][:, None])[:, 0]
        for i, total, count in zip(chunk, picked.sum(1).tolist(), chosen.sum(1).tolist(), strict=True):
            sums[i], counts[i] = total, count
    return sums, counts


def reply_log_likelihood(model: QuestionerAwareLM, codec: TextCodec, examples: list[dict[str, Any]],
                         batch_size: int = 64) -> list[float]:
    """Mean log-probability per reply token of each example's reply given its prompt and
    questioner (teacher forcing): the score by which replies are ranked."""
    sums, counts = reply_log_probs(model, codec, examples, batch_size)
    return [total / max(count, 1) for total, count in zip(sums, counts, strict=True)]


# ---- generation ----
def logits_processors(config: Any, prompt_width: int) -> list[Any]:
    """The ``transformers`` logits processors and warpers that ``config`` (a
    ``transformers.GenerationConfig``) asks for, in the order ``generate`` applies them; the
    repetition penalty ignores the prompt."""
    from transformers.generation import logits_process as lp

    chain: list[Any] = []
    if config.repetition_penalty and config.repetition_penalty != 1.0:
        chain.append(lp.RepetitionPenaltyLogitsProcessor(config.repetition_penalty,
                                                         prompt_ignore_length=prompt_width))
    if config.no_repeat_ngram_size:
        chain.append(lp.NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.do_sample:
        if config.temperature and config.temperature != 1.0:
            chain.append(lp.TemperatureLogitsWarper(config.temperature))
        if config.top_k:
            chain.append(lp.TopKLogitsWarper(config.top_k))
    return chain  # top-p: see nucleus_sample


def nucleus_sample(logits: torch.Tensor, top_p: float | None, draws: torch.Generator) -> torch.Tensor:
    """One token per row drawn from the nucleus of ``softmax(logits)``: the most probable
    tokens whose probability before them sums to less than ``top_p`` (the tokens
    ``transformers``' ``TopPLogitsWarper`` keeps), renormalised; the whole distribution when
    ``top_p`` is None or 1. Drawn by inverting the cumulative distribution with one uniform
    number per row from ``draws`` (a NumPy sort and a search: several times cheaper on CPU than
    ``torch.sort`` and ``torch.multinomial`` over the vocabulary)."""
    probs = torch.softmax(logits.float(), -1)
    order = torch.from_numpy(np.argsort(-probs.numpy(), axis=-1))
    ranked = probs.gather(1, order)
    if top_p is not None and top_p < 1.0:
        keep = (ranked.cumsum(-1) - ranked) < top_p
        keep[:, 0] = True
        ranked = ranked * keep
    cumulative = ranked.cumsum(-1)
    u = torch.rand(len(probs), 1, generator=draws, dtype=cumulative.dtype) * cumulative[:, -1:]
    picked = torch.searchsorted(cumulative, u, right=True).clamp(max=probs.shape[-1] - 1)
    picked = torch.minimum(picked, (ranked > 0).sum(-1, keepdim=True) - 1)  # never past the nucleus
    return order.gather(1, picked)[:, 0]


def _left_padded(codec: TextCodec, chunk: list[list[int]], questioners: list[int],
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in chunk)
    ids = torch.full((len(chunk), width), codec.pad_id, dtype=torch.long)
    mask, roles = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, (p, q) in enumerate(zip(chunk, questioners, strict=True)):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
        roles[i, width - len(p):] = torch.tensor(token_roles(len(p), len(p), q))
    return ids, mask, roles


@torch.no_grad()
def generate_replies(model: QuestionerAwareLM, codec: TextCodec, prompts: list[list[int]],
                     questioners: list[int], config: Any, seed: int = 0,
                     batch_size: int = 256) -> list[str]:
    """Replies decoded with the settings of ``config`` (a ``transformers.GenerationConfig``:
    greedy or nucleus sampling, repetition penalty, ``no_repeat_ngram_size``,
    ``max_new_tokens``), with a KV cache and left padding; sampling draws from ``seed``."""
    model.eval()
    replies: list[str] = []
    banned_always = sorted({codec.pad_id, codec.bos_id, getattr(codec, "unk_id", codec.pad_id)})
    draws = torch.Generator().manual_seed(int(seed))
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        who_list = questioners[start : start + batch_size]
        who = torch.tensor(who_list)
        ids, mask, roles = _left_padded(codec, chunk, who_list)
        chain = logits_processors(config, ids.shape[1])
        hidden, past, mask = model.hidden_states(ids, mask, who, roles)
        produced = ids
        out: list[list[int]] = [[] for _ in chunk]
        done = torch.zeros(len(chunk), dtype=torch.bool)
        for step in range(int(config.max_new_tokens)):
            logits = model.logits(hidden[:, -1]).float()
            logits[:, banned_always] = -np.inf
            if step == 0:
                logits[:, codec.sep_id] = -np.inf
            for process in chain:
                logits = process(produced, logits)
            if config.do_sample:
                nxt = nucleus_sample(logits, config.top_p, draws)
            else:
                nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, codec.pad_id), nxt)
            for i, token in enumerate(nxt.tolist()):
                if not done[i] and token != codec.sep_id:
                    out[i].append(token)
            produced = torch.cat([produced, nxt[:, None]], 1)
            done |= nxt == codec.sep_id
            if bool(done.all()):
                break
            mask = torch.cat([mask, (~done).long()[:, None] | (nxt == codec.sep_id).long()[:, None]], 1)
            step_roles = torch.full_like(nxt[:, None], RESPONDER_ROLE)
            hidden, past, mask = model.hidden_states(nxt[:, None], mask, who, step_roles, past=past)
        replies += [codec.decode(o) for o in out]
    return replies
