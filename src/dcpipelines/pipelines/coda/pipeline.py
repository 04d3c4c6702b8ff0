"""The coda graph: device data and cloud pool -> cloud model -> interests up -> coarse matching
-> samples down -> device filter -> per-user fine-tuning and evaluation -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.coda import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The coda graph: cloud model, matching, device filter and fine-tuning, baselines, report."""
    graph = Pipeline(
        [
            Node(nodes.device_data, ["click_log", "params:data", "params:seed"],
                 ["device_local_samples", "device_test_samples"], name="split_device_data",
                 tags=["device"]),
            Node(nodes.cloud_pool, ["click_log", "params:data", "params:seed"], "cloud_pool",
                 name="build_cloud_pool", tags=["cloud"]),
            Node(nodes.train_cloud_models,
                 ["cloud_pool", "params:cloud_model", "params:seed", "params:seeds"],
                 ["cloud_models", "cloud_training_loss"], name="train_cloud_models",
                 tags=["cloud"]),
            Node(nodes.upload_interests, ["device_local_samples", "cloud_models"],
                 "user_interests", name="upload_interests", tags=["device"]),
            Node(nodes.match_in_cloud,
                 ["cloud_pool", "cloud_models", "user_interests", "params:matching"],
                 "downloads", name="match_in_cloud", tags=["cloud"]),
            Node(nodes.filter_on_device,
                 ["device_local_samples", "cloud_models", "downloads", "params:sample_filter"],
                 "device_keep_masks", name="filter_on_device", tags=["device"]),
            Node(nodes.personalise_and_evaluate,
                 ["device_local_samples", "device_test_samples", "cloud_models", "downloads",
                  "device_keep_masks", "params:matching", "params:finetune"],
                 "test_scores", name="personalise_and_evaluate", tags=["device"]),
            Node(nodes.filter_quality,
                 ["device_test_samples", "cloud_pool", "downloads", "device_keep_masks",
                  "params:matching"],
                 "filter_stats", name="filter_quality", tags=["device"]),
            Node(nodes.device_cost,
                 ["device_local_samples", "cloud_models", "downloads", "user_interests",
                  "params:matching", "params:sample_filter", "params:finetune",
                  "params:cost"],
                 "cost_per_device", name="measure_device_cost", tags=["device"]),
            Node(nodes.hand_device_model,
                 ["device_local_samples", "device_test_samples", "cloud_models", "downloads",
                  "params:matching", "params:sample_filter", "params:finetune"],
                 "device_models", name="hand_device_model", tags=["device"]),
            Node(report.report_coda,
                 ["test_scores", "filter_stats", "cost_per_device", "params:matching",
                  "params:seed", "cloud_training_loss"],
                 "report", name="report_coda", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="coda", inputs={"click_log"},
                    prefix_datasets_with_namespace=True)
