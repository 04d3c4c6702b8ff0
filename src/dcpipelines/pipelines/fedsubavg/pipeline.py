"""The fedsubavg graph: clients from the primary tables -> strategy runs -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.fedsubavg import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The fedsubavg pipeline, namespaced ``fedsubavg``."""
    graph = Pipeline(
        [
            Node(nodes.click_clients, ["click_log", "params:click_data", "params:seed"],
                 "device_click_clients", name="build_click_clients", tags=["device"]),
            Node(nodes.simulate_click_strategies,
                 ["device_click_clients", "params:click_model", "params:click_training",
                  "params:runs", "params:seed"],
                 ["click_rounds", "click_summary"], name="simulate_click_strategies",
                 tags=["federated"]),
            Node(nodes.script_clients, ["script_turns", "params:script_data"],
                 "device_script_clients", name="build_script_clients", tags=["device"]),
            Node(nodes.simulate_script_strategies,
                 ["device_script_clients", "params:script_model", "params:script_training",
                  "params:runs", "params:seed"],
                 ["script_rounds", "script_summary"], name="simulate_script_strategies",
                 tags=["federated"]),
            Node(report.report_fedsubavg,
                 ["click_rounds", "click_summary", "click_data_stats", "script_rounds",
                  "script_summary", "params:click_training", "params:script_training"],
                 "report", name="report_fedsubavg", tags=["cloud"]),
            Node(nodes.click_data_stats, "device_click_clients", "click_data_stats",
                 name="click_data_stats", tags=["device"]),
        ]
    )
    return Pipeline(graph, namespace="fedsubavg", inputs={"click_log", "script_turns"},
                    prefix_datasets_with_namespace=True)
