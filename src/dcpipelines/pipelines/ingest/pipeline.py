"""The ingest graph: each raw source -> one validated table in 03_primary, plus a report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.ingest import nodes, report

PRIMARY_TABLES = ["script_turns", "click_log", "t2i_prompts", "digits", "cifar10_images"]


def create_pipeline(**kwargs) -> Pipeline:
    """The ingest pipeline, namespaced ``ingest``."""
    graph = Pipeline(
        [
            Node(nodes.combine_scripts, "raw_scripts", "script_turns", name="combine_scripts"),
            Node(nodes.shape_click_log, "raw_click_log", "click_log", name="shape_click_log"),
            Node(nodes.tidy_prompts, "raw_t2i_prompts", "t2i_prompts", name="tidy_prompts"),
            Node(nodes.digits_table, None, "digits", name="digits_table"),
            Node(nodes.keep_images, "raw_cifar10", "cifar10_images", name="decode_cifar10"),
            Node(nodes.keep_labelled_dialogue, "raw_labelled_dialogue", "labelled_dialogue",
                 name="read_labelled_dialogue"),
            Node(
                report.report_ingest,
                [*PRIMARY_TABLES, "params:reporting"],
                "report",
                name="report_ingest",
            ),
        ]
    )
    return Pipeline(
        graph,
        namespace="ingest",
        inputs={"raw_scripts", "raw_click_log", "raw_t2i_prompts", "raw_cifar10",
                "raw_labelled_dialogue"},
        outputs={*PRIMARY_TABLES, "labelled_dialogue"},
        prefix_datasets_with_namespace=True,
    )
