"""CoDA's steps on simulated devices: what the cloud sends down, what each device keeps, the
training sets of the compared variants, and their test scores.

Variants (same model family, same fine-tuning budget per user):
``cloud_global`` the cloud model as is; ``local_only`` fine-tuned on the user's own samples;
``local_random`` plus as many random pool samples as ``coda`` keeps; ``local_retrieved`` plus
every coarse-matched sample; ``coda`` plus the matched samples the device's classifier keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dcpipelines.core.recsys.din import DIN
from dcpipelines.core.recsys.matching import (
    coarse_match,
    interest_embeddings,
    pool_embeddings,
    random_outside,
)
from dcpipelines.core.recsys.personalize import (
    PersonalDIN,
    UserSets,
    draw_batches,
    finetune_one_user,
    finetune_users,
    item_slots,
    predict_users,
)
from dcpipelines.core.recsys.sample_filter import sample_features, train_sample_classifiers
from dcpipelines.core.recsys.samples import ClickSamples, stack_user_sets

VARIANTS = ("cloud_global", "local_only", "local_random", "local_retrieved", "coda")
ID_BYTES = 4  # an item id sent as int32
LABEL_BYTES = 1


@dataclass
class Downloads:
    """What the cloud sends each device: matched, outside and random pool samples (U, k, ...)."""

    retrieved: dict[str, torch.Tensor]
    outside: dict[str, torch.Tensor]
    random: dict[str, torch.Tensor]
    retrieved_rows: torch.Tensor  # (U, k) pool rows, kept for evaluation only
    retrieved_per_user: int

    def of_user(self, user: int) -> Downloads:
        """What user ``user``'s device receives."""
        def pick(fields: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {f: v[user:user + 1] for f, v in fields.items()}

        return Downloads(pick(self.retrieved), pick(self.outside), pick(self.random),
                         self.retrieved_rows[user:user + 1], self.retrieved_per_user)

    def bytes_per_user(self, part: str) -> int:
        """Payload of one user's ``part`` samples: ids (item + history) and labels."""
        fields = getattr(self, part)
        k, length = fields["history"].shape[1:]
        return int(k * ((1 + length) * ID_BYTES + LABEL_BYTES))


def user_interests(model: DIN, local: ClickSamples) -> torch.Tensor:
    """(U, d): what each device uploads for matching (see :mod:`matching`)."""
    return interest_embeddings(model.item_embedding.weight.detach(), local)


def cloud_downloads(model: DIN, pool: ClickSamples, interests: torch.Tensor, *, k: int,
                    outside: int, seed: int) -> Downloads:
    """Coarse matching for every user, plus random outside samples for the classifier and
    random samples for the ``local_random`` control (seeded)."""
    table = model.item_embedding.weight.detach()
    rows = coarse_match(interests, pool_embeddings(table, pool), pool.owner, k)
    gen = torch.Generator().manual_seed(seed)
    outside_rows = random_outside(pool, outside, gen)
    random_rows = random_outside(pool, k, gen)
    return Downloads(pool.gather(rows), pool.gather(outside_rows), pool.gather(random_rows),
                     rows, k)


def local_sets(local: ClickSamples) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Each user's own samples padded to (U, Nmax, ...), and the counts."""
    index, counts = local.per_user()
    return local.gather(index), counts


def filter_retrieved(model: DIN, local: ClickSamples, downloads: Downloads, *, k: int,
                     steps: int, lr: float, l2: float, threshold: float) -> torch.Tensor:
    """(U, k) keep mask: the device's classifier calls the matched sample local."""
    table = model.item_embedding.weight.detach()
    feats = {"local": sample_features(table, local.item, local.history)}
    for name, part in (("outside", downloads.outside), ("retrieved", _head(downloads.retrieved, k))):
        feats[name] = sample_features(table, part["item"], part["history"])
    classifiers = train_sample_classifiers(feats["local"], local.owner, feats["outside"],
                                           steps=steps, lr=lr, l2=l2)
    return classifiers.prob_local(feats["retrieved"]) >= threshold


def _head(fields: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    return {f: v[:, :k] for f, v in fields.items()}


def variant_sets(local: ClickSamples, downloads: Downloads, keep: torch.Tensor, k: int
                 ) -> dict[str, UserSets]:
    """The training set of every fine-tuned variant; ``keep`` is coda's (U, k) mask."""
    fields, counts = local_sets(local)
    real = torch.arange(fields["item"].shape[1]).unsqueeze(0) < counts.unsqueeze(1)
    kept = keep.sum(1, keepdim=True)
    random_mask = torch.arange(k).unsqueeze(0) < kept
    extras = {
        "local_only": None,
        "local_random": (_head(downloads.random, k), random_mask),
        "local_retrieved": (_head(downloads.retrieved, k), torch.ones_like(keep)),
        "coda": (_head(downloads.retrieved, k), keep),
    }
    out = {}
    for name, extra in extras.items():
        parts, masks = [fields], [real]
        if extra is not None:
            parts.append(extra[0])
            masks.append(extra[1])
        joined, count = stack_user_sets(parts, masks)
        out[name] = UserSets(joined["item"], joined["history"], joined["label"], count)
    return out


def personalised_scores(model: DIN, sets: UserSets, test: dict[str, torch.Tensor], *,
                        steps: int, batch_size: int, lr: float, seed: int,
                        chunk: int = 512) -> torch.Tensor:
    """(U, T) test logits after fine-tuning every user's model on ``sets``."""
    slots, test_slots, num_slots = item_slots(sets, test["item"])
    draws = draw_batches(sets.count, steps, batch_size, seed)
    params = finetune_users(model, sets, slots, num_slots, draws, lr=lr, chunk=chunk)
    return predict_users(model, params, test["item"], test_slots, test["history"])


@torch.no_grad()
def cloud_scores(model: DIN, test: dict[str, torch.Tensor]) -> torch.Tensor:
    """(U, T) test logits of the cloud model."""
    return model({"item": test["item"], "history": test["history"]})


def test_fields(test: ClickSamples) -> dict[str, torch.Tensor]:
    """Each user's test rows as (U, T, ...) (every user holds the same number T)."""
    index, counts = test.per_user()
    if int(counts.min()) != int(counts.max()):
        raise ValueError("every user must hold the same number of test rows")
    return test.gather(index)


def one_device_coda(model: DIN, local: ClickSamples, downloads: Downloads, *, k: int,
                    sample_filter: dict, steps: int, batch_size: int, lr: float, seed: int,
                    ) -> PersonalDIN:
    """Everything one device trains in ``coda``, with the one-user loop: classifier, filter,
    fine-tuning; returns its personal model. ``local`` and ``downloads`` hold that user alone."""
    keep = filter_retrieved(model, local, downloads, k=k, **sample_filter)
    sets = variant_sets(local, downloads, keep, k)["coda"]
    slots, _, num_slots = item_slots(sets, sets.item[:, :1])
    draws = draw_batches(sets.count, steps, batch_size, seed)[:, 0]
    params = finetune_one_user(model, sets.item[0], slots[0], sets.history[0], sets.label[0],
                               num_slots, draws, lr=lr)
    real = sets.count[0]
    return PersonalDIN(model, params, sets.item[0, :real], slots[0, :real])
