"""The prototype contrast within clusters on toy embeddings with known answers."""

import math

import pytest
import torch

from dcpipelines.core.nn.contrastive import PrototypeQueue, prototype_contrastive_loss


def test_loss_matches_the_closed_form_and_ignores_other_clusters():
    # cluster 0 has prototypes for questioners 0 and 1 (orthogonal); cluster 1 has one for 2
    prototypes = torch.zeros(2, 3, 2)
    prototypes[0, 0] = torch.tensor([1.0, 0.0])
    prototypes[0, 1] = torch.tensor([0.0, 1.0])
    prototypes[1, 2] = torch.tensor([1.0, 0.0])
    available = torch.tensor([[True, True, False], [False, False, True]])
    z = torch.tensor([[2.0, 0.0]])  # points at questioner 0's prototype
    loss = prototype_contrastive_loss(z, torch.tensor([0]), torch.tensor([0]), prototypes,
                                      available, temperature=0.1)
    expected = -math.log(math.exp(10) / (math.exp(10) + math.exp(0)))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # the wrong questioner costs a lot more
    wrong = prototype_contrastive_loss(z, torch.tensor([1]), torch.tensor([0]), prototypes,
                                       available, temperature=0.1)
    assert wrong.item() == pytest.approx(10 + expected, rel=1e-4)


def test_samples_without_rivals_or_own_prototype_are_left_out():
    prototypes = torch.randn(2, 3, 4)
    available = torch.tensor([[True, False, False], [True, True, False]])
    z = torch.randn(2, 4, requires_grad=True)
    # sample 0: cluster 0 has no rival; sample 1: own prototype (questioner 2) missing
    loss = prototype_contrastive_loss(z, torch.tensor([0, 2]), torch.tensor([0, 1]), prototypes,
                                      available, temperature=0.1)
    assert loss.item() == 0.0
    loss.backward()  # still differentiable


def test_gradient_pulls_towards_own_prototype():
    prototypes = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    available = torch.ones(1, 2, dtype=torch.bool)
    z = torch.tensor([[0.6, 0.8]], requires_grad=True)
    prototype_contrastive_loss(z, torch.tensor([0]), torch.tensor([0]), prototypes, available,
                               0.1).backward()
    moved = z - 0.01 * z.grad
    assert moved[0, 0] / moved.norm() > z[0, 0] / z.norm()


def test_queue_keeps_the_latest_entries_and_averages_them():
    queue = PrototypeQueue(clusters=1, questioners=2, dim=2, size=2)
    for value in (1.0, 2.0, 3.0):
        queue.push(torch.tensor([[value, 0.0]]), torch.tensor([1]), torch.tensor([0]))
    means, available = queue.prototypes()
    assert available.tolist() == [[False, True]]
    assert means[0, 1].tolist() == [2.5, 0.0]  # the first entry was overwritten
