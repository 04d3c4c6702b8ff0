"""The two depth networks, the scale-aware loss and the training loop."""

import numpy as np
import pytest
import torch

from dcpipelines.core.vision.depth import (
    build_depth_model,
    predict_depth,
    scale_invariant_loss,
    train_depth_model,
)
from dcpipelines.core.vision.rgbd import Frames

SPECS = {"ae": {"widths": [4, 8, 8, 8]},
         "multiscale": {"coarse_widths": [4, 8, 8, 8], "hidden": 8, "fine_width": 4}}


@pytest.mark.parametrize("kind", ["ae", "multiscale"])
def test_models_map_rgb_to_positive_depth_at_half_size(kind):
    torch.manual_seed(0)
    model = build_depth_model(kind, SPECS[kind], (48, 64)).eval()
    out = model(torch.rand(2, 3, 48, 64))
    assert out.shape == (2, 1, 24, 32) and (out > 0).all()
    if kind == "multiscale":  # coarse and fine maps, both at the output size
        assert [t.shape for t in model.log_depths(torch.rand(1, 3, 48, 64))] == [(1, 1, 24, 32)] * 2


def test_unknown_model_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown depth model"):
        build_depth_model("unet", {}, (48, 64))


def test_loss_is_zero_when_exact_and_lambda_sets_the_scale_sensitivity():
    depth = torch.rand(2, 1, 4, 4) * 5 + 0.5
    assert scale_invariant_loss(torch.log(depth), depth).item() == pytest.approx(0, abs=1e-6)
    scaled = torch.log(depth * 2)  # right shape, wrong scale
    assert scale_invariant_loss(scaled, depth, lam=1.0).item() == pytest.approx(0, abs=1e-5)
    # lambda 0.5 keeps half of the squared log-scale error: 0.5 * log(2)^2
    assert scale_invariant_loss(scaled, depth, lam=0.5).item() == pytest.approx(
        0.5 * np.log(2) ** 2, rel=1e-4)


def test_loss_ignores_pixels_without_depth():
    depth = torch.ones(1, 1, 2, 2)
    depth[0, 0, 0, 0] = 0
    pred = torch.zeros(1, 1, 2, 2)
    pred[0, 0, 0, 0] = 50.0  # wildly wrong where there is no ground truth
    assert scale_invariant_loss(pred, depth).item() == pytest.approx(0, abs=1e-6)


def test_training_lowers_the_validation_loss_and_keeps_the_best_epoch():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 48, 64, 3), dtype=np.uint8)
    # depth follows the image: brighter left half -> nearer (a learnable rule)
    depth = (1.0 + 4.0 * (1 - rgb[:, ::2, ::2, 0] / 255.0)).astype(np.float32)
    frames = Frames(rgb, depth)
    torch.manual_seed(0)
    model = build_depth_model("ae", SPECS["ae"], (48, 64))
    result = train_depth_model(model, frames.take(slice(0, 48)), frames.take(slice(48, None)),
                               epochs=4, batch=16, lr=0.01, lam=0.5, seed=0)
    assert result.val_loss[result.best_epoch - 1] == min(result.val_loss)
    assert result.train_loss[-1] < result.train_loss[0]
    assert predict_depth(result.model, frames.take(slice(0, 3))).shape == (3, 24, 32)
