"""DC-CCL's pieces: fused serving logits, averaging with BatchNorm buffers, last-layer tuning,
and a known-answer run in which fusion learns classes the cloud never saw."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import planted_image_set
from dcpipelines.core.vision import dcccl
from dcpipelines.core.vision.mobile import mobile_cnn
from dcpipelines.core.vision.resnets import residual_cnn
from dcpipelines.core.vision.sides import split_sides


def _trained_bn_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = residual_cnn([4, 8], num_classes=3)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32) * (seed + 1))  # moves the BatchNorm running stats
    return model


def test_fused_model_serves_the_sum_of_cloud_and_co_logits():
    torch.manual_seed(0)
    cloud, co = residual_cnn([8, 16], 10).eval(), mobile_cnn([4, 8], 10, expand=2).eval()
    x = torch.randn(5, 3, 32, 32)
    fused = dcccl.FusedModel(cloud, co).eval()
    with torch.no_grad():
        expected = cloud(x) + co(x)
        assert torch.allclose(fused(x), expected, atol=1e-6)
        assert not torch.allclose(fused(x), cloud(x))  # co contributes


def test_zeroed_co_submodel_leaves_the_cloud_logits_unchanged():
    torch.manual_seed(1)
    cloud, co = residual_cnn([8, 16], 10).eval(), residual_cnn([4, 8], 10).eval()
    dcccl.zero_last_layer(co)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(dcccl.FusedModel(cloud, co)(x), cloud(x))


def test_average_writes_parameters_and_batchnorm_buffers_into_the_model_itself():
    a, b = _trained_bn_model(0), _trained_bn_model(1)
    target = copy.deepcopy(a)
    weight_tensor = target.classifier.weight  # the very tensor the model uses
    before_a, before_b = copy.deepcopy(a.state_dict()), copy.deepcopy(b.state_dict())
    returned = dcccl.average_into(target, [a, b], [0.5, 0.5])
    assert returned is target and target.classifier.weight is weight_tensor
    state = target.state_dict()
    bn_keys = [k for k in state if "running_mean" in k or "running_var" in k]
    assert bn_keys, "the model has BatchNorm buffers"
    for key, value in state.items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.5 * before_a[key] + 0.5 * before_b[key]), key
    for key in bn_keys:  # buffers really differed, so the check above is not vacuous
        assert not torch.allclose(before_a[key], before_b[key]), key
    # the model computes with the averaged state (eval mode uses the running statistics)
    x = torch.randn(2, 3, 32, 32)
    reference = copy.deepcopy(a)
    reference.load_state_dict({k: (0.5 * before_a[k] + 0.5 * before_b[k])
                               if before_a[k].is_floating_point() else before_a[k]
                               for k in before_a})
    with torch.no_grad():
        assert torch.allclose(target.eval()(x), reference.eval()(x), atol=1e-5)


def test_average_into_a_source_model_and_weight_checks():
    a, b = _trained_bn_model(2), _trained_bn_model(3)
    mean_b = b.state_dict()["features.1.running_mean"].clone()
    mean_a = a.state_dict()["features.1.running_mean"].clone()
    dcccl.average_into(a, [a, b], [0.25, 0.75])
    assert torch.allclose(a.state_dict()["features.1.running_mean"], 0.25 * mean_a + 0.75 * mean_b)
    with pytest.raises(ValueError, match="sum to 1"):
        dcccl.average_into(a, [a, b], [0.5, 0.6])


def test_last_layer_tuning_changes_only_the_classifier():
    torch.manual_seed(4)
    model = residual_cnn([4, 8], 3)
    data = dcccl.Samples(torch.randn(16, 3, 32, 32), torch.randint(0, 3, (16,)), 3)
    before = copy.deepcopy(model.state_dict())
    dcccl.tune_last_layer(model, data, torch.zeros(16, 3), dcccl.TrainConfig(epochs=2, lr=0.1),
                          seed=0)
    after = model.state_dict()
    for key in before:
        changed = not torch.equal(before[key], after[key])
        assert changed == key.startswith("classifier."), key


def test_offset_logits_steer_training():
    """With the mimic's logits already right, CE(offset + co) leaves little to learn."""
    torch.manual_seed(5)
    data = dcccl.Samples(torch.randn(32, 3, 32, 32), torch.randint(0, 3, (32,)), 3)
    right = torch.nn.functional.one_hot(data.y, 3).float() * 20
    co_a, co_b = residual_cnn([4, 8], 3), residual_cnn([4, 8], 3)
    co_b.load_state_dict(co_a.state_dict())
    start = copy.deepcopy(co_a.classifier.weight)
    cfg = dcccl.TrainConfig(epochs=2, lr=0.1, weight_decay=0.0)
    dcccl.train_classifier(co_a, data, cfg, seed=0, offset=right)
    dcccl.train_classifier(co_b, data, cfg, seed=0)
    moved_a = (co_a.classifier.weight - start).norm()
    moved_b = (co_b.classifier.weight - start).norm()
    assert moved_a < 0.01 * moved_b


def test_fusion_learns_device_classes_the_cloud_never_saw():
    """Known answer: classes 6-9 live only on the device. The cloud submodel alone cannot
    predict them; DC-CCL's fused model learns them over the rounds, without the large
    submodel on the device and without losing the cloud's classes."""
    images = planted_image_set(60, seed=0, test_per_class=20)
    split = split_sides(images.labels, images.split, range(6), train_per_class=40,
                        holdout_per_class=5, device_cloud_class_share=0.25, test_per_class=20,
                        seed=0)

    def samples(rows):
        return dcccl.to_samples(images.images[rows], images.labels[rows], 10)

    cloud, device, test = samples(split.cloud), samples(split.device), samples(split.test)
    torch.manual_seed(0)
    large = dcccl.train_classifier(residual_cnn([16, 32, 64]), cloud,
                                   dcccl.TrainConfig(epochs=4, lr=0.05, batch_size=32), seed=0)
    torch.manual_seed(1)
    mimic = dcccl.distil_mimic(residual_cnn([8, 16]), cloud.x, dcccl.predict_logits(large, cloud.x),
                               dcccl.TrainConfig(epochs=4, lr=0.003, batch_size=32), seed=1)
    step = dcccl.TrainConfig(epochs=3, lr=0.05, batch_size=32)
    service = dcccl.CloudRounds(cloud, dcccl.predict_logits(mimic, cloud.x), step,
                                dcccl.TrainConfig(epochs=1, lr=0.01, batch_size=32))
    torch.manual_seed(2)
    co = dcccl.zero_last_layer(residual_cnn([8, 16]))
    states = dcccl.collaborative_rounds(co, device, dcccl.predict_logits(mimic, device.x),
                                        service, 6, seed=2, device_train=step)
    assert len(states) == 6 and torch.equal(states[-1]["classifier.weight"], co.classifier.weight)
    cloud_logits = dcccl.predict_logits(large, test.x)
    alone = dcccl.side_accuracy(cloud_logits, test.y, range(6))
    fused = dcccl.side_accuracy(cloud_logits + dcccl.predict_logits(co, test.x), test.y, range(6))
    assert alone["device_class_acc"] == 0.0
    assert fused["device_class_acc"] >= 0.2
    assert fused["acc"] >= alone["acc"] + 0.08
    assert fused["cloud_class_acc"] >= alone["cloud_class_acc"] - 0.05


def test_side_accuracy_needs_both_sides():
    logits = torch.eye(3)
    with pytest.raises(ValueError, match="both cloud and device"):
        dcccl.side_accuracy(logits, torch.tensor([0, 1, 2]), [0, 1, 2])
    acc = dcccl.side_accuracy(logits, torch.tensor([0, 2, 2]), [0, 1])
    assert acc == {"acc": pytest.approx(2 / 3), "cloud_class_acc": 1.0, "device_class_acc": 0.5}
