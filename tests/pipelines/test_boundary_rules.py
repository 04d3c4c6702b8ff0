"""Both halves of the device/cloud boundary, read off a graph: no cloud node reads raw device
data, no device node reads a large cloud-only model."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.boundary import (
    boundary_violations,
    device_datasets_read_by,
    downlink_violations,
)


def _identity(*args):
    return args[0]


def test_mirror_rule_catches_a_device_node_reading_the_large_cloud_submodel():
    leaky = Pipeline([
        Node(_identity, "cloud_samples", "cloud_large_submodel", name="train_large",
             tags=["cloud"]),
        Node(_identity, "cloud_large_submodel", "mimic", name="distil", tags=["cloud"]),
        Node(_identity, ["device_samples", "cloud_large_submodel"], "co", name="train_co",
             tags=["device"]),
    ])
    expected = ["device node 'train_co' reads cloud-only large model 'cloud_large_submodel'"]
    assert downlink_violations(leaky) == expected
    assert boundary_violations(leaky) == expected


def test_mirror_rule_sees_through_namespaces_and_allows_the_mimic():
    graph = Pipeline([
        Node(_identity, "cloud_samples", "cloud_large_submodel", name="train_large",
             tags=["cloud"]),
        Node(_identity, "cloud_large_submodel", "mimic", name="distil", tags=["cloud"]),
        Node(_identity, ["device_samples", "mimic"], "co", name="train_co", tags=["device"]),
        Node(_identity, ["cloud_large_submodel", "co"], "served", name="serve",
             tags=["cloud"]),
    ])
    assert boundary_violations(Pipeline(graph, namespace="x",
                                        prefix_datasets_with_namespace=True)) == []
    leaky = Pipeline([Node(_identity, "cloud_large_submodel", "y", name="peek",
                           tags=["device"])], namespace="x", prefix_datasets_with_namespace=True)
    assert downlink_violations(leaky) == [
        "device node 'x.peek' reads cloud-only large model 'x.cloud_large_submodel'"]


def test_both_rules_are_reported_together():
    leaky = Pipeline([
        Node(_identity, "device_clicks", "a", name="cloud_reads_device", tags=["cloud"]),
        Node(_identity, "cloud_large_model", "b", name="device_reads_large", tags=["device"]),
    ])
    assert len(boundary_violations(leaky)) == 2


def test_device_datasets_read_by_a_tag():
    graph = Pipeline([
        Node(_identity, ["device_samples", "device_logs"], "u", name="pool", tags=["bound"]),
        Node(_identity, "device_samples", "v", name="train", tags=["device"]),
        Node(_identity, "u", "w", name="report", tags=["cloud"]),
    ])
    assert device_datasets_read_by(graph, "bound") == ["device_logs", "device_samples"]
    assert device_datasets_read_by(graph, "cloud") == []
