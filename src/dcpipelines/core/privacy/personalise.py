"""The stages of personalisation without user identifiers, as plain functions.

1. central: the cloud trains one model on the uploaded texts (no user information at all);
2. on-device baseline: each user fine-tunes a copy on its own samples (batched over users);
3. device stage: each user learns its embedding distribution against the frozen central model;
4. uploads: every training-period text goes up with a fresh draw from its user's distribution
   (text, label, embedding; no user id), in shuffled order;
5. cloud stage: the cloud fine-tunes the central model on those uploads;
6. scoring: each test query carries a fresh draw; new users send the zero embedding.

Tables follow :mod:`dcpipelines.core.text.user_corpora` (columns user, text, label, part).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from dcpipelines.core.privacy.embeddings import UserEmbeddings, learn_embeddings, make_embeddings
from dcpipelines.core.text.prefix_lm import PrefixLM, Vocab, encode_batch
from dcpipelines.core.text.user_training import (
    UserSamples,
    fine_tune_per_user,
    score_per_user,
    score_shared,
    train_shared,
)

TRAINING_PARTS = ("train", "val")


@dataclass
class ModelBundle:
    """A trained model with what a device needs to use it (vocabulary and shape)."""

    vocab: Vocab
    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    loss_history: list[float] = field(default_factory=list)  # training loss per step

    def model(self) -> PrefixLM:
        """A fresh PrefixLM with the trained weights loaded."""
        model = PrefixLM(len(self.vocab), **self.config)
        model.load_state_dict(self.state)
        return model.eval()


def _targets(ids: torch.Tensor, labels: pd.Series, classify: bool) -> torch.Tensor:
    return torch.tensor(labels.to_numpy(), dtype=torch.long) if classify else ids


def encode_rows(bundle: ModelBundle, rows: pd.DataFrame, num_users: int) -> UserSamples:
    """Device-side samples of ``rows`` in the model's vocabulary."""
    classify = bundle.config["num_classes"] is not None
    ids = encode_batch(bundle.vocab, rows["text"].tolist(), bundle.config["max_len"],
                       left_pad=classify)
    users = torch.tensor(rows["user"].to_numpy(), dtype=torch.long)
    return UserSamples(ids, _targets(ids, rows["label"], classify), users, num_users)


def num_users(table: pd.DataFrame) -> int:
    """Number of users in a table of per-user rows (ids run from 0)."""
    return int(table["user"].max()) + 1


def text_uploads(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The training-period texts and labels as the cloud receives them: shuffled, no user."""
    rows = table[table["part"].isin(TRAINING_PARTS)][["text", "label"]]
    order = np.random.default_rng(seed).permutation(len(rows))
    return rows.iloc[order].reset_index(drop=True)


def train_central(uploads: pd.DataFrame, *, unit: str, num_classes: int | None,
                  model: dict, training: dict, seed: int) -> ModelBundle:
    """Vocabulary from the uploads, then one model trained with the zero user embedding."""
    vocab = Vocab.fit(uploads["text"], unit, min_count=model["vocab_min_count"],
                      max_size=model["vocab_max_size"])
    config = {"dim": model["dim"], "layers": model["layers"], "heads": model["heads"],
              "max_len": model["max_len"], "n_prefix": model["n_prefix"],
              "num_classes": num_classes}
    torch.manual_seed(seed)
    net = PrefixLM(len(vocab), **config)
    bundle = ModelBundle(vocab, config, {})
    data = encode_rows(bundle, uploads.assign(user=0), 1)
    train_shared(net, data.inputs, data.targets, None, steps=training["steps"],
                 batch=training["batch"], lr=training["lr"], seed=seed,
                 losses=bundle.loss_history)
    bundle.state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return bundle


def _parts(bundle: ModelBundle, table: pd.DataFrame, *names: str) -> list[UserSamples]:
    users = num_users(table)
    return [encode_rows(bundle, table[table["part"] == name], users) for name in names]


def score_table(rows: pd.DataFrame, scores: dict[str, torch.Tensor], variant: str,
                seed: int) -> pd.DataFrame:
    """Per-sample scores with the sample's user and label, for one variant and seed."""
    return pd.DataFrame({
        "seed": seed, "variant": variant, "user": rows["user"].to_numpy(),
        "label": rows["label"].to_numpy(), "pred": scores["pred"].numpy(),
        "correct": scores["correct"].numpy(), "count": scores["count"].numpy(),
    })


def on_device_scores(bundle: ModelBundle, table: pd.DataFrame, cfg: dict, seed: int) -> pd.DataFrame:
    """Per-user fine-tuned copies of the central model, scored on each user's test period."""
    train, val, test = _parts(bundle, table, "train", "val", "test")
    params = fine_tune_per_user(bundle.model(), train, val, steps=cfg["steps"],
                                batch=cfg["batch"], lr=cfg["lr"],
                                eval_every=cfg["eval_every"], seed=seed)
    scores = score_per_user(bundle.model(), params, test)
    return score_table(table[table["part"] == "test"], scores, "on_device", seed)


def learn_distributions(bundle: ModelBundle, table: pd.DataFrame, kind: str, closeness: float,
                        cfg: dict, seed: int) -> UserEmbeddings:
    """One kind of per-user distribution, learnt on the devices against the frozen model."""
    train, val = _parts(bundle, table, "train", "val")
    model = bundle.model()
    torch.manual_seed(seed)  # the static kind starts from random vectors
    embeddings = make_embeddings(kind, train.num_users, model)
    return learn_embeddings(model, embeddings, train, val, steps=cfg["steps"], batch=cfg["batch"],
                            lr=cfg["lr"], closeness=closeness, eval_every=cfg["eval_every"],
                            seed=seed)


@torch.no_grad()
def embedding_uploads(embeddings: UserEmbeddings, table: pd.DataFrame,
                      seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What the devices send, in shuffled order, and (kept on the devices) who sent what.

    Uploads: training-period texts with labels and one fresh embedding each, and test-period
    queries (text and a fresh embedding, no label). Owners: the user of each upload row.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sent: dict[str, Any] = {}
    owners: dict[str, np.ndarray] = {}
    for name, parts in [("train", TRAINING_PARTS), ("query", ("test",))]:
        rows = table[table["part"].isin(parts)]
        rows = rows.iloc[rng.permutation(len(rows))]
        users = torch.tensor(rows["user"].to_numpy(), dtype=torch.long)
        sent[name] = {"text": rows["text"].tolist(), "label": rows["label"].to_numpy(),
                      "embedding": embeddings.sample(users)}
        owners[name] = users.numpy()
    sent["query"].pop("label")
    return sent, owners


def train_cloud(bundle: ModelBundle, uploads: dict[str, Any], cfg: dict, seed: int) -> ModelBundle:
    """Fine-tune the central model on the uploads, each with its own sampled embedding."""
    train = uploads["train"]
    rows = pd.DataFrame({"text": train["text"], "label": train["label"], "user": 0})
    data = encode_rows(bundle, rows, 1)
    model = bundle.model()
    losses: list[float] = []
    train_shared(model, data.inputs, data.targets, train["embedding"], steps=cfg["steps"],
                 batch=cfg["batch"], lr=cfg["lr"], seed=seed, losses=losses)
    return ModelBundle(bundle.vocab, bundle.config,
                       {k: v.detach().clone() for k, v in model.state_dict().items()}, losses)


@torch.no_grad()
def personalised_scores(model_bundle: ModelBundle, embeddings: UserEmbeddings | None,
                        table: pd.DataFrame, part: str, variant: str, seed: int) -> pd.DataFrame:
    """Score ``part`` with fresh draws per query (zero embedding when ``embeddings`` is None
    or the user is new)."""
    torch.manual_seed(seed)
    rows = table[table["part"] == part]
    (data,) = _parts(model_bundle, table, part)
    prefixes = None if embeddings is None else embeddings.sample(data.users)
    scores = score_shared(model_bundle.model(), data.inputs, data.targets, prefixes)
    return score_table(rows, scores, variant, seed)



@torch.inference_mode()
def prefix_overhead_ms(bundle: ModelBundle, embeddings: UserEmbeddings, texts: list[str],
                       repeats: int) -> tuple[float, float]:
    """Median batch-1 latency (ms) of the classifier without and with a freshly sampled user
    embedding (the draw included), over ``repeats`` rounds alternating the two."""
    import time

    model = bundle.model()
    rows = pd.DataFrame({"text": texts, "label": 0, "user": 0})
    data = encode_rows(bundle, rows, embeddings.num_users)
    user = torch.zeros(1, dtype=torch.long)
    plain, prefixed = [], []
    model(data.inputs[:1], embeddings.draw(user))  # warm-up
    for r in range(repeats):
        ids = data.inputs[r % len(data) : r % len(data) + 1]
        start = time.perf_counter()
        model(ids, None)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        model(ids, embeddings.draw(user))
        prefixed.append(time.perf_counter() - start)
    return 1e3 * float(np.median(plain)), 1e3 * float(np.median(prefixed))
