"""The device/cloud boundary, enforced by the structure of the pipeline graphs.

Datasets named ``device_*`` (or ``<namespace>.device_*``) hold raw device data and never leave
the device side. Nodes tagged ``cloud`` run in the cloud and may read only what devices upload
(updates, features, embeddings), never a ``device_*`` dataset: the papers' "no raw sample
up-link" rule.
"""

from __future__ import annotations

from typing import Any

DEVICE_PREFIX = "device_"
CLOUD_TAG = "cloud"


def is_device_dataset(name: str) -> bool:
    """Whether a (possibly namespaced) dataset name is device-only data."""
    return name.rsplit(".", 1)[-1].startswith(DEVICE_PREFIX)


def boundary_violations(pipeline: Any) -> list[str]:
    """One message per cloud-tagged node input that is raw device data."""
    return [
        f"cloud node '{node.name}' reads device-only dataset '{name}'"
        for node in pipeline.nodes
        if CLOUD_TAG in node.tags
        for name in node.inputs
        if is_device_dataset(name)
    ]
