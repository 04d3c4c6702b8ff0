"""FLOPs and parameter counts on layers whose cost is known by hand (2 FLOPs per multiply-add)."""

import pytest
import torch
from torch import nn

from dcpipelines.core.vision.flops import count_flops, count_parameters
from dcpipelines.core.vision.training_cost import (
    forward_flops_per_sample,
    training_flops_per_sample,
)


def test_linear_and_convolution_flops_by_hand():
    assert count_flops(nn.Linear(64, 10), torch.zeros(3, 64)) == 2 * 3 * 64 * 10
    # 4 output channels on a 6x6 map, each output a 3x3x3 window
    conv = nn.Conv2d(3, 4, 3)
    assert count_flops(conv, torch.zeros(1, 3, 8, 8)) == 2 * (4 * 6 * 6) * (3 * 3 * 3)
    # stride 2 and padding 1: a 4x4 output map
    strided = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    assert count_flops(strided, torch.zeros(2, 3, 8, 8)) == 2 * 2 * (4 * 4 * 4) * 27


def test_count_flops_leaves_the_mode_and_counts_one_pass():
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).train()
    assert count_flops(net, torch.zeros(1, 8)) == 2 * (8 * 16 + 16 * 4)
    assert net.training


def test_parameters_count_frozen_ones_too():
    net = nn.Sequential(nn.Linear(5, 3), nn.Linear(3, 2, bias=False))
    net[0].weight.requires_grad_(False)
    assert count_parameters(net) == 5 * 3 + 3 + 3 * 2


def test_per_sample_forward_and_training_flops_by_hand():
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    example = torch.zeros(5, 8)
    forward = 2 * (8 * 16 + 16 * 4)
    assert forward_flops_per_sample(net, example) == pytest.approx(forward)
    # backward: both layers' weight gradients, and the input gradient of the second layer only
    # (the first layer's input needs none)
    backward = 2 * (8 * 16) + 2 * 2 * (16 * 4)
    assert training_flops_per_sample(net, example) == pytest.approx(forward + backward)
    with pytest.raises(ValueError, match="at least two samples"):
        training_flops_per_sample(net, example[:1])
