"""The mqdialog graph: turns -> candidate pairs -> selected, split pairs -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.mqdialog import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The mqdialog pipeline, namespaced ``mqdialog``."""
    graph = Pipeline(
        [
            Node(
                nodes.pair_consecutive_turns,
                ["script_turns", "params:pairs"],
                "dialogue_pairs",
                name="pair_consecutive_turns",
            ),
            Node(
                nodes.select_and_split,
                ["dialogue_pairs", "params:selection", "params:split", "params:seed"],
                "mqdialog_pairs",
                name="select_and_split",
            ),
            Node(
                report.report_mqdialog,
                ["dialogue_pairs", "mqdialog_pairs", "params:selection"],
                "report",
                name="report_mqdialog",
            ),
        ]
    )
    return Pipeline(
        graph,
        namespace="mqdialog",
        inputs={"script_turns"},
        outputs={"mqdialog_pairs"},
        prefix_datasets_with_namespace=True,
    )
