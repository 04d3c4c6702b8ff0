"""Partitioned projection: P = 1 is a dense layer, shuffling is the stated permutation, and the
FLOPs counted by torch fall P-fold."""

import pytest
import torch
from torch import nn

from dcpipelines.core.vision.flops import count_flops
from dcpipelines.core.vision.partitioned import PartitionedLinear, shuffle_permutation


def test_one_partition_equals_a_dense_layer():
    torch.manual_seed(0)
    dense = nn.Linear(12, 8)
    x = torch.randn(5, 3, 12)
    for shuffle in (False, True):
        layer = PartitionedLinear.from_dense(dense)
        layer.shuffle = shuffle  # with P = 1 the shuffle is the identity
        torch.testing.assert_close(layer(x), dense(x))


def test_blocks_only_see_their_own_inputs_without_shuffling():
    torch.manual_seed(0)
    layer = PartitionedLinear(8, 8, partitions=4, shuffle=False, bias=False)
    x = torch.zeros(1, 8)
    x[0, 2:4] = 1.0  # input block 1 only
    out = layer(x)[0]
    assert torch.all(out[:2] == 0) and torch.all(out[4:] == 0)
    torch.testing.assert_close(out[2:4], torch.ones(2) @ layer.weight[1])


def test_shuffling_lays_the_block_output_out_as_k_by_p():
    torch.manual_seed(0)
    plain = PartitionedLinear(12, 6, partitions=3, shuffle=False)
    shuffled = PartitionedLinear(12, 6, partitions=3, shuffle=True, bias=False)
    with torch.no_grad():
        shuffled.weight.copy_(plain.weight)
    x = torch.randn(4, 12)
    unbiased = plain(x) - plain.bias
    # element j of block p moves from p * k + j to j * P + p (k = 2 outputs per block, P = 3)
    for p in range(3):
        for j in range(2):
            torch.testing.assert_close(shuffled(x)[:, j * 3 + p], unbiased[:, p * 2 + j])
    torch.testing.assert_close(shuffled(x), unbiased[:, shuffle_permutation(6, 3)])


@pytest.mark.parametrize("partitions", [2, 4, 8, 16])
def test_flops_fall_p_fold(partitions):
    x = torch.randn(16, 64)
    dense = count_flops(PartitionedLinear(64, 64, 1), x)
    assert dense == 2 * 16 * 64 * 64
    assert count_flops(PartitionedLinear(64, 64, partitions), x) == dense // partitions


def test_partitions_must_divide_the_widths():
    with pytest.raises(ValueError, match="partitions=3"):
        PartitionedLinear(8, 8, 3)
