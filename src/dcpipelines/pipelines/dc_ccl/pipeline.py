"""The dc_ccl graph. Cloud nodes: the cloud's samples, the large submodel, the mimics, the
cloud's half of each round, evaluation and report. Device nodes: the device's samples, the
collaborative rounds and the device-only baselines; they read the mimics and co-submodels,
never ``cloud_large_submodel``. The centralized upper bound pools both sides on purpose and
carries its own tag; the audit node reads the graph itself to count uplinked samples.
"""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.dc_ccl import nodes, report

UPPER_BOUND_TAG = "upper_bound"
SEEDS = ["params:seed", "params:seeds"]


def create_pipeline(**kwargs) -> Pipeline:
    """The dc_ccl graph: cloud training and mimic, device rounds, baselines, audit, report."""
    graph = Pipeline([
        Node(nodes.select_cloud_samples, ["cifar10_images", "params:data", "params:seed"],
             ["cloud_samples", "cloud_holdout"], name="select_cloud_samples", tags=["cloud"]),
        Node(nodes.select_joint_test, ["cifar10_images", "params:data", "params:seed"],
             "joint_test", name="select_joint_test", tags=["cloud"]),
        Node(nodes.select_device_samples, ["cifar10_images", "params:data", "params:seed"],
             "device_samples", name="select_device_samples", tags=["device"]),
        Node(nodes.train_cloud_large_submodel,
             ["cloud_samples", "params:models", "params:cloud_training", *SEEDS],
             "cloud_large_submodel", name="train_cloud_large_submodel", tags=["cloud"]),
        Node(nodes.distil_mimics, ["cloud_large_submodel", "cloud_samples", "params:models",
                                   "params:distillation"],
             "mimic_models", name="distil_mimics", tags=["cloud"]),
        Node(nodes.measure_mimic_fidelity,
             ["cloud_large_submodel", "mimic_models", "cloud_holdout"], "mimic_fidelity",
             name="measure_mimic_fidelity", tags=["cloud"]),
        Node(nodes.open_cloud_rounds, ["cloud_samples", "mimic_models", "params:rounds"],
             "cloud_round_service", name="open_cloud_rounds", tags=["cloud"]),
        Node(nodes.run_collaborative_rounds,
             ["device_samples", "mimic_models", "cloud_round_service", "params:models",
              "params:rounds"],
             "co_submodel_states", name="run_collaborative_rounds", tags=["device"]),
        Node(nodes.train_co_without_mimic,
             ["device_samples", "params:models", "params:rounds", *SEEDS],
             "co_no_mimic_states", name="train_co_without_mimic", tags=["device"]),
        Node(nodes.train_device_only, ["device_samples", "params:models", "params:rounds",
                                       *SEEDS],
             "small_model_states", name="train_device_only", tags=["device"]),
        Node(nodes.train_centralized,
             ["cloud_samples", "device_samples", "params:models", "params:cloud_training",
              *SEEDS],
             "centralized_model", name="train_centralized", tags=[UPPER_BOUND_TAG]),
        Node(nodes.evaluate_variants,
             ["cloud_large_submodel", "co_submodel_states", "co_no_mimic_states",
              "small_model_states", "centralized_model", "joint_test", "params:models",
              "params:data"],
             "accuracy_by_round", name="evaluate_variants", tags=["cloud"]),
        Node(nodes.measure_link_traffic,
             ["cloud_large_submodel", "mimic_models", "co_submodel_states", "params:models",
              "params:rounds"],
             "link_traffic", name="measure_link_traffic", tags=["cloud"]),
        Node(nodes.estimate_device_cost,
             ["device_samples", "mimic_models", "params:models", "params:rounds"],
             "on_device_training_cost", name="estimate_device_cost", tags=["device"]),
        Node(nodes.export_device_models,
             ["co_submodel_states", "mimic_models", "params:models"], "device_models",
             name="export_device_models", tags=["device"]),
        Node(nodes.hand_cloud_model, "cloud_large_submodel", "mlflow_models",
             name="hand_cloud_model", tags=["cloud"]),
        Node(nodes.audit_uplink, ["device_samples", "cloud_samples"], "uplink_audit",
             name="audit_uplink", tags=["audit"]),
        Node(report.report_dc_ccl, ["accuracy_by_round", "mimic_fidelity", "link_traffic",
                             "on_device_training_cost", "uplink_audit", "params:claims"],
             "report", name="report_dc_ccl", tags=["cloud"]),
    ])
    return Pipeline(graph, namespace="dc_ccl", inputs={"cifar10_images"},
                    prefix_datasets_with_namespace=True)
