"""The walle graph: train and export the edge model, run it on the device side three ways,
process device events into features, simulate releasing the task to a fleet, report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.walle import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The walle pipeline, namespaced ``walle``."""
    graph = Pipeline(
        [
            Node(nodes.train_edge_model, ["digits", "params:seed", "params:edge_model"],
                 ["edge_model", "edge_model_accuracy", "edge_model_loss"], name="train_edge_model", tags=["cloud"]),
            Node(nodes.export_edge_model, ["edge_model", "digits", "params:export"],
                 "edge_model_export", name="export_edge_model", tags=["cloud"]),
            Node(nodes.hand_device_models,
                 ["edge_model", "edge_model_accuracy", "digits", "cifar10_images"], "device_models",
                 name="hand_device_models", tags=["cloud"]),
            Node(nodes.model_files, "edge_model_export", ["edge_model_onnx", "edge_model_mnn"],
                 name="model_files", tags=["cloud"]),
            Node(nodes.compare_runtimes,
                 ["edge_model", "edge_model_export", "digits", "params:latency"],
                 "runtime_latency", name="compare_runtimes", tags=["device"]),
            Node(nodes.run_concurrent_tasks,
                 ["edge_model_export", "params:seed", "params:concurrency"],
                 "concurrency_table", name="run_concurrent_tasks", tags=["device"]),
            Node(nodes.generate_device_events, ["params:seed", "params:stream"], "device_events",
                 name="generate_device_events", tags=["device"]),
            Node(nodes.extract_stream_features, ["device_events", "params:stream"],
                 ["uploaded_features", "stream_throughput"], name="extract_stream_features",
                 tags=["device"]),
            Node(nodes.simulate_deployment, ["params:seed", "params:deployment"],
                 "deployment_table", name="simulate_deployment", tags=["cloud"]),
            Node(nodes.sweep_release, ["params:seed", "params:deployment"],
                 "deployment_sweeps", name="sweep_release", tags=["cloud"]),
            Node(nodes.validate_release_model, ["params:seed", "params:deployment"],
                 "deployment_validation", name="validate_release_model", tags=["cloud"]),
            Node(nodes.plan_releases, ["params:seed", "params:deployment"],
                 ["deployment_policies", "gray_release"], name="plan_releases", tags=["cloud"]),
            Node(nodes.collect_deployment,
                 ["deployment_table", "deployment_sweeps", "deployment_validation",
                  "deployment_policies", "gray_release", "params:deployment"],
                 "deployment", name="collect_deployment", tags=["cloud"]),
            Node(
                report.report_walle,
                ["edge_model_accuracy", "edge_model_export", "runtime_latency",
                 "concurrency_table", "uploaded_features", "stream_throughput",
                 "deployment", "edge_model_loss"],
                "report",
                name="report_walle",
                tags=["cloud"],
            ),
        ]
    )
    return Pipeline(graph, namespace="walle", inputs={"digits", "cifar10_images"}, prefix_datasets_with_namespace=True)
