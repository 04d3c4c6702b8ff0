"""The questioner_aware graph: embed and cluster queries, pre-train (or load) the base decoder,
train every variant on the same budget once per run seed, answer and rank on the test split,
report per language."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.questioner_aware import nodes, report

VARIANTS = ["zero_shot", "blind", "id_embedding", "dual_no_cl", "dual_cl_no_cluster",
            "bottleneck_shift", "full"]


def create_pipeline(**kwargs) -> Pipeline:
    """The questioner_aware pipeline, namespaced ``questioner_aware``."""
    variant_nodes = [
        Node(
            nodes.variant_runner(variant),
            ["clustered_pairs", "base_decoder", "rank_candidates", "params:data",
             "params:finetune", "params:generation", "params:runs", "params:seed"],
            f"results_{variant}",
            name=f"train_and_generate_{variant}",
        )
        for variant in VARIANTS
    ]
    graph = Pipeline(
        [
            Node(nodes.embed_queries, ["mqdialog_pairs", "params:encoder"],
                 "query_embeddings", name="embed_queries"),
            Node(nodes.cluster_questions,
                 ["mqdialog_pairs", "query_embeddings", "params:clustering", "params:seed"],
                 ["clustered_pairs", "cluster_summary"], name="cluster_questions"),
            Node(nodes.pretraining_corpus, ["script_turns", "mqdialog_pairs"],
                 "pretraining_texts", name="pretraining_corpus"),
            Node(nodes.pretrain_base_decoder,
                 ["pretraining_texts", "params:decoder", "params:seed"],
                 "base_decoder", name="pretrain_base_decoder"),
            Node(nodes.base_decoder_perplexity, ["base_decoder", "mqdialog_pairs"],
                 "base_decoder_perplexity", name="base_decoder_perplexity"),
            Node(nodes.rank_candidates, ["clustered_pairs", "params:ranking", "params:seed"],
                 "rank_candidates", name="rank_candidates"),
            Node(nodes.reply_identifiability, ["clustered_pairs", "rank_candidates"],
                 "reply_identifiability", name="reply_identifiability"),
            *variant_nodes,
            Node(
                report.report_questioner_aware,
                ["clustered_pairs", "cluster_summary", "base_decoder", "base_decoder_perplexity",
                 "reply_identifiability", *[f"results_{v}" for v in VARIANTS]],
                "report",
                name="report_questioner_aware",
            ),
        ]
    )
    return Pipeline(
        graph,
        namespace="questioner_aware",
        inputs={"script_turns", "mqdialog_pairs"},
        prefix_datasets_with_namespace=True,
    )
