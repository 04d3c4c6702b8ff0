"""The fedsubavg graph: clients -> tuned strategy runs over seeds -> sweep -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.fedsubavg import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The fedsubavg pipeline, namespaced ``fedsubavg``."""
    graph = Pipeline(
        [
            Node(nodes.click_clients, ["click_log", "params:click_data", "params:seed"],
                 "device_click_clients", name="build_click_clients", tags=["device"]),
            Node(nodes.click_data_stats, "device_click_clients", "click_data_stats",
                 name="click_data_stats", tags=["device"]),
            Node(nodes.tune_click_strategies,
                 ["device_click_clients", "params:click_model", "params:click_training",
                  "params:runs", "params:grid", "params:seed"],
                 ["click_grid", "click_tuned_runs"], name="tune_click_strategies",
                 tags=["federated"]),
            Node(nodes.run_click_seeds,
                 ["device_click_clients", "params:click_model", "params:click_training",
                  "params:runs", "params:variants", "click_grid", "click_tuned_runs",
                  "params:seeds", "params:seed"],
                 ["click_rounds", "click_final_params"], name="run_click_seeds",
                 tags=["federated"]),
            Node(nodes.global_models,
                 ["device_click_clients", "params:click_model", "click_final_params"],
                 "mlflow_models", name="global_models", tags=["federated"]),
            Node(nodes.heterogeneity_sweep,
                 ["params:heterogeneity", "params:runs", "params:seed"],
                 "heterogeneity_sweep", name="heterogeneity_sweep", tags=["federated"]),
            Node(nodes.script_clients, ["script_turns", "params:script_data"],
                 "device_script_clients", name="build_script_clients", tags=["device"]),
            Node(nodes.simulate_script_strategies,
                 ["device_script_clients", "params:script_model", "params:script_training",
                  "params:script_runs", "params:seed"],
                 ["script_rounds", "script_summary"], name="simulate_script_strategies",
                 tags=["federated"]),
            Node(report.report_fedsubavg,
                 ["click_rounds", "click_grid", "click_data_stats", "heterogeneity_sweep",
                  "script_rounds", "script_summary", "params:click_training"],
                 "report", name="report_fedsubavg", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="fedsubavg", inputs={"click_log", "script_turns"},
                    prefix_datasets_with_namespace=True)
