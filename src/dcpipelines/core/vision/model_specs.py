"""Build a vision model from a small spec, ``{family: residual | mobile, widths: [...]}``, so
that configuration files choose the model families of each side."""

from __future__ import annotations

from torch import nn

FAMILIES = ("residual", "mobile")


def build_model(spec: dict, num_classes: int) -> nn.Module:
    """A fresh model of ``spec['family']`` with ``spec['widths']`` (and ``expand``)."""
    family = spec.get("family")
    if family == "residual":
        from dcpipelines.core.vision.resnets import residual_cnn

        return residual_cnn(spec["widths"], num_classes)
    if family == "mobile":
        from dcpipelines.core.vision.mobile import mobile_cnn

        return mobile_cnn(spec["widths"], num_classes, spec.get("expand", 3))
    raise ValueError(f"model family {family!r} is not one of {FAMILIES}")
