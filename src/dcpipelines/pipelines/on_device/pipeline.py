"""The on_device graph: measure every registered device model on this host, estimate its cost
on each device profile, report the per-model, per-profile table."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.on_device import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    graph = Pipeline(
        [
            Node(nodes.measure_device_models, ["params:models", "params:latency"],
                 ["model_measurements", "model_costs"], name="measure_device_models",
                 tags=["device"]),
            Node(report.report_on_device, ["model_measurements", "model_costs"], "report",
                 name="report_on_device", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="on_device", prefix_datasets_with_namespace=True)
