"""The depth_edge graph: frames (rendered forest or an RGB-D folder) -> both models trained per
seed -> depth metrics on sharp and blurred frames -> export, host timing, board estimates ->
report; the two models are handed to on_device as ``device_models``."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.depth_edge import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The depth_edge graph: frames, both models, scores, export and profiling, report."""
    graph = Pipeline(
        [
            Node(nodes.frame_splits,
                 ["rgbd_folder", "params:data", "params:world", "params:blur", "params:seed",
                  "params:seeds"],
                 "frame_splits", name="depth_frame_splits"),
            Node(nodes.train_depth_models, ["frame_splits", "params:models", "params:training"],
                 ["depth_models", "training_history"], name="train_depth_models",
                 tags=["cloud"]),
            Node(nodes.score_depth_models, ["frame_splits", "depth_models", "params:blur"],
                 "depth_scores", name="score_depth_models", tags=["cloud"]),
            Node(nodes.example_predictions,
                 ["frame_splits", "depth_models", "params:blur", "params:seed",
                  "params:report.example_frames"],
                 "example_predictions", name="depth_example_predictions", tags=["cloud"]),
            Node(nodes.device_depth_models, ["depth_models", "frame_splits", "params:seed"],
                 "device_models", name="hand_over_depth_models", tags=["device"]),
            Node(nodes.profile_depth_models,
                 ["device_models", "frame_splits", "params:profiling", "params:boards",
                  "params:seed"],
                 "edge_profile", name="profile_depth_models", tags=["device"]),
            Node(report.report_depth_edge,
                 ["depth_scores", "training_history", "edge_profile", "example_predictions",
                  "params:report", "params:boards", "params:blur", "params:data"],
                 "report", name="report_depth_edge", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="depth_edge", prefix_datasets_with_namespace=True)
