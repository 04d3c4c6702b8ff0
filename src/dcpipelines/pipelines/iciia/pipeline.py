"""The iciia graph: image pools -> cached backbone -> cached features -> methods over seeds,
sweeps -> costs and device models -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.iciia import nodes, report

_HEAD_INPUTS = ["features", "params:clients", "params:module", "params:training"]


def create_pipeline(**kwargs) -> Pipeline:
    """The iciia graph: pools, cached backbone and features, methods, sweeps, costs, report."""
    graph = Pipeline(
        [
            Node(nodes.split_images, ["cifar10_images", "params:data", "params:seed"],
                 "image_pools", name="split_images", tags=["cloud"]),
            Node(nodes.fit_backbone,
                 ["cifar10_images", "image_pools", "params:backbone", "params:data",
                  "params:seed"],
                 "backbone", name="fit_backbone", tags=["cloud"]),
            Node(nodes.extract_features,
                 ["cifar10_images", "image_pools", "backbone"],
                 "features", name="extract_features", tags=["cloud"]),
            Node(nodes.compare_methods, [*_HEAD_INPUTS, "params:seed", "params:seeds"],
                 ["method_accuracy", "client_accuracy", "trained_modules", "head_curves"],
                 name="compare_methods", tags=["cloud"]),
            Node(report.training_histories, ["backbone", "head_curves"], "training_histories",
                 name="collect_training_histories", tags=["cloud"]),
            Node(nodes.run_sweeps, [*_HEAD_INPUTS, "params:sweeps", "params:seed"],
                 ["partition_sweep", "context_sweep"], name="run_sweeps", tags=["cloud"]),
            Node(nodes.measure_costs,
                 ["backbone", "features", "trained_modules", "params:module", "params:latency"],
                 ["costs", "device_models"], name="measure_costs", tags=["cloud"]),
            Node(report.report_iciia,
                 ["method_accuracy", "client_accuracy", "partition_sweep", "context_sweep",
                  "costs", "features", "params:module", "training_histories"],
                 "report", name="report_iciia", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="iciia", inputs={"cifar10_images"},
                    prefix_datasets_with_namespace=True)
