"""The fed_influence graph: digits clients -> influence vs leave-one-out -> debugging -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.fed_influence import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The fed_influence pipeline, namespaced ``fed_influence``."""
    graph = Pipeline(
        [
            Node(nodes.digit_clients, ["digits", "params:split", "params:seed"],
                 "device_digit_clients", name="split_digit_clients", tags=["device"]),
            Node(nodes.compare_with_leave_one_out,
                 ["device_digit_clients", "params:convex_model", "params:training",
                  "params:seed"],
                 "convex_influence", name="convex_influence", tags=["federated"]),
            Node(nodes.compare_with_leave_one_out,
                 ["device_digit_clients", "params:nonconvex_model", "params:training",
                  "params:seed"],
                 "nonconvex_influence", name="nonconvex_influence", tags=["federated"]),
            Node(nodes.debug_flipped_clients,
                 ["device_digit_clients", "params:debugging", "params:training", "params:seed"],
                 "debug_ranking", name="debug_flipped_clients", tags=["federated"]),
            Node(report.report_fed_influence,
                 ["convex_influence", "nonconvex_influence", "debug_ranking", "params:debugging"],
                 "report", name="report_fed_influence", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="fed_influence", inputs={"digits"},
                    prefix_datasets_with_namespace=True)
