"""The device/cloud boundary, enforced by the structure of the pipeline graphs.

Datasets named ``device_*`` (or ``<namespace>.device_*``) hold raw device data and never leave
the device side. Nodes tagged ``cloud`` run in the cloud and may read only what devices upload
(updates, features, embeddings), never a ``device_*`` dataset: the papers' "no raw sample
up-link" rule.

The mirror rule, DC-CCL's "no large model down-link": datasets named ``cloud_large_*`` (or
``<namespace>.cloud_large_*``) hold models too large for a device, and no node tagged
``device`` may read one; what goes down must be a small model under another name (a mimic, a
co-submodel).
"""

from __future__ import annotations

from typing import Any

DEVICE_PREFIX = "device_"
CLOUD_TAG = "cloud"
LARGE_CLOUD_PREFIX = "cloud_large_"
DEVICE_TAG = "device"


def is_device_dataset(name: str) -> bool:
    """Whether a (possibly namespaced) dataset name is device-only data."""
    return name.rsplit(".", 1)[-1].startswith(DEVICE_PREFIX)


def is_large_cloud_model(name: str) -> bool:
    """True for a dataset holding a large cloud-only model (`cloud_large_*`), which never goes down."""
    return name.rsplit(".", 1)[-1].startswith(LARGE_CLOUD_PREFIX)


def device_datasets_read_by(pipeline: Any, tag: str) -> list[str]:
    """The raw device datasets that nodes carrying ``tag`` read (sorted, each once)."""
    return sorted({name for node in pipeline.nodes if tag in node.tags
                   for name in node.inputs if is_device_dataset(name)})


def downlink_violations(pipeline: Any) -> list[str]:
    """One message per device-tagged node input that is a large cloud-only model."""
    return [
        f"device node '{node.name}' reads cloud-only large model '{name}'"
        for node in pipeline.nodes
        if DEVICE_TAG in node.tags
        for name in node.inputs
        if is_large_cloud_model(name)
    ]


def boundary_violations(pipeline: Any) -> list[str]:
    """One message per cloud-tagged node input that is raw device data, then one per
    device-tagged node input that is a large cloud-only model."""
    uplink = [
        f"cloud node '{node.name}' reads device-only dataset '{name}'"
        for node in pipeline.nodes
        if CLOUD_TAG in node.tags
        for name in node.inputs
        if is_device_dataset(name)
    ]
    return uplink + downlink_violations(pipeline)
