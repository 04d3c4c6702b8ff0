"""ICIIA on planted clients: noisy synthetic features of 6 classes, every client holding 2 of
them. A per-image classifier cannot know a client's classes; attention over the client's
other images can, so the trained module must beat the Bayes-style per-image classifier."""

import numpy as np
import pandas as pd
import torch
from torch import nn

from dcpipelines.core.vision.adapt import Part, TrainBudget, accuracy, fit_head
from dcpipelines.core.vision.clients import ClientSpec, build_clients, client_sequences, targets
from dcpipelines.core.vision.flops import count_flops
from dcpipelines.core.vision.iciia import BackboneWithModule, IciiaModule, LinearHead, ModuleSpec

CLASSES, DIM, NOISE = 6, 16, 2.5


def _planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(CLASSES, DIM))
    pool_y, test_y = rng.integers(0, CLASSES, 4000), rng.integers(0, CLASSES, 2000)

    def draw(labels):
        return (means[labels] + NOISE * rng.normal(size=(len(labels), DIM))).astype(np.float32)

    pool_x, test_x = draw(pool_y), draw(test_y)
    # the per-image optimum for equal priors and isotropic noise: nearest class mean
    classifier = nn.Linear(DIM, CLASSES)
    m = torch.tensor(means, dtype=torch.float32)
    with torch.no_grad():
        classifier.weight.copy_(m / NOISE**2)
        classifier.bias.copy_(-0.5 * (m * m).sum(1) / NOISE**2)
    spec = ClientSpec(num_clients=40, min_classes=2, max_classes=2, reserve_ratio=0.0,
                      train_images=64, val_images=16, test_images=32)
    frame = build_clients(pool_y, test_y, spec, seed, CLASSES)
    parts = {}
    for name in ("train", "val", "test"):
        rows = frame[frame["part"] == name]
        x = (test_x if name == "test" else pool_x)[rows["index"].to_numpy()]
        parts[name] = Part.from_arrays(x, rows["label"].to_numpy(), rows["client"].to_numpy())
    return classifier, parts, frame


def test_iciia_beats_the_per_image_classifier_on_class_subset_clients():
    classifier, parts, _ = _planted()
    backbone = accuracy(LinearHead(classifier), parts["test"], 1, seed=0)
    torch.manual_seed(0)
    module = IciiaModule(DIM, CLASSES, ModuleSpec(layers=1, heads=2, partitions=1))
    budget = TrainBudget(epochs=15, patience=15, images_per_step=128, lr=0.005)
    fit_head(module, parts["train"], parts["val"], 8, budget, seed=0)
    iciia = accuracy(module, parts["test"], 8, seed=0)
    assert 0.5 < backbone < 0.7  # the planted problem is hard per image
    assert iciia > backbone + 0.05, (iciia, backbone)


def test_clients_hold_their_class_subsets():
    _, _, frame = _planted()
    for _, rows in frame.groupby("client"):
        own = {int(c) for c in rows["classes"].iloc[0].split(",")}
        assert len(own) == 2 and set(rows["label"]) <= own
    sizes = frame.groupby(["client", "part"]).size().unstack()
    assert (sizes["train"] == 64).all() and (sizes["test"] == 32).all()


def test_reserve_ratio_mixes_in_other_classes():
    labels = np.repeat(np.arange(10), 200)
    spec = ClientSpec(num_clients=20, reserve_ratio=0.3, train_images=100, val_images=0,
                      test_images=50)
    frame = build_clients(labels, labels, spec, seed=1)
    outside = [~rows["label"].astype(str).isin(rows["classes"].iloc[0].split(","))
               for _, rows in frame.groupby("client")]
    share = float(pd.concat(outside).mean())
    assert 0.2 < share < 0.4


def test_sequences_stay_within_a_client_and_every_image_is_a_target_once():
    clients = np.array([0] * 10 + [1] * 5 + [2] * 16)
    seqs = client_sequences(clients, 4, seed=0)
    assert all(len(set(clients[s])) == 1 for s in seqs)
    mask = targets(seqs)
    assert sorted(seqs[mask].tolist()) == list(range(len(clients)))


def test_module_cost_falls_with_partitions_and_device_model_runs():
    x = torch.zeros(1, 16, 64)
    dense = count_flops(IciiaModule(64, 10, ModuleSpec(partitions=1)), x)
    split = count_flops(IciiaModule(64, 10, ModuleSpec(partitions=16)), x)
    assert split < dense / 4  # projections dominate; attention and classifier do not shrink

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(12, 64))

    combined = BackboneWithModule(Tiny(), IciiaModule(64, 10, ModuleSpec()), torch.zeros(15, 64))
    assert combined.eval()(torch.zeros(1, 3, 2, 2)).shape == (1, 10)
