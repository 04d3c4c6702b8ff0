"""The on_device graph: measure every device model the pipelines handed over on this host,
calibrate the cost model on those measurements, estimate each model's cost on each device
profile, report the per-model, per-profile table."""

import warnings

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.on_device import nodes, report


def create_pipeline(handed: list[str] | None = None, **kwargs) -> Pipeline:
    """``handed``: the ``<pipeline>.device_models`` datasets other pipelines output (the
    registry passes them so that a full run measures after every hand-off)."""
    handed = sorted(handed or [])
    with warnings.catch_warnings():
        # the handed datasets are other pipelines' namespaced outputs: their dots are on purpose
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        measure = Node(nodes.measure_device_models,
                       ["device_models", "params:models", "params:calibration_variants",
                        "params:latency", *handed],
                       ["model_measurements", "model_costs", "cost_calibration", "cost_model"],
                       name="measure_device_models",
                       tags=["device"])
    graph = Pipeline(
        [
            measure,
            Node(report.report_on_device,
                 ["model_measurements", "model_costs", "cost_calibration", "cost_model"],
                 "report",
                 name="report_on_device", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="on_device", inputs={"device_models", *handed},
                    prefix_datasets_with_namespace=True)
