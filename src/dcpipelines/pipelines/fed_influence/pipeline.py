"""The fed_influence graph: digits clients -> influence vs leave-one-out (full and partial
participation) -> debugging -> cost against leave-one-out as K grows -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.fed_influence import nodes, report


def _comparison(name: str, model: str, training: str) -> Node:
    """Estimated vs leave-one-out influence of one model and training setting."""
    return Node(nodes.compare_with_leave_one_out,
                ["device_digit_clients", model, training],
                [f"{name}_influence", f"{name}_history", f"{name}_params"],
                name=f"{name}_influence", tags=["federated"])


def create_pipeline(**kwargs) -> Pipeline:
    """The fed_influence pipeline, namespaced ``fed_influence``."""
    graph = Pipeline(
        [
            Node(nodes.digit_clients, ["digits", "params:split", "params:seed", "params:seeds"],
                 "device_digit_clients", name="split_digit_clients", tags=["device"]),
            _comparison("convex", "params:convex_model", "params:training"),
            _comparison("nonconvex", "params:nonconvex_model", "params:training"),
            _comparison("partial", "params:partial_participation.model",
                        "params:partial_participation.training"),
            Node(nodes.debug_corrupted_clients,
                 ["device_digit_clients", "params:debugging", "params:partial_participation"],
                 "debug_ranking", name="debug_corrupted_clients", tags=["federated"]),
            Node(nodes.cost_sweep, ["digits", "params:cost_sweep", "params:seed"],
                 "cost_sweep", name="cost_against_leave_one_out", tags=["federated"]),
            Node(nodes.global_models,
                 ["convex_params", "nonconvex_params", "partial_params", "params:convex_model",
                  "params:nonconvex_model", "params:partial_participation"],
                 "mlflow_models", name="global_models", tags=["cloud"]),
            Node(report.report_fed_influence,
                 ["convex_influence", "nonconvex_influence", "partial_influence",
                  "debug_ranking", "cost_sweep", "convex_history", "partial_history",
                  "params:debugging"],
                 "report", name="report_fed_influence", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="fed_influence", inputs={"digits"},
                    prefix_datasets_with_namespace=True)
