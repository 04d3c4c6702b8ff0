"""The anon_embed graph, once per task (``cls``: sentiment per CPED speaker, ``gen``: next word
per Shakespeare role): device split -> anonymous text uploads -> central model (cloud) ->
on-device baseline and per-user embedding distributions (device) -> uploads with sampled
embeddings -> personalised cloud model (cloud) -> scores and tracking attacks -> report."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.anon_embed import nodes, report

TASKS = {"cls": ("labelled_dialogue", "classification", nodes.classification_split),
         "gen": ("script_turns", "generation", nodes.generation_split)}


def _task_nodes(t: str) -> list[Node]:
    table, task, split = TASKS[t]
    dev, prm = f"device_{t}_split", f"params:{task}"
    return [
        Node(split, [table, prm, "params:seed"], dev, name=f"split_{t}_users", tags=["device"]),
        Node(nodes.upload_texts, [dev, "params:seed"], f"{t}_text_uploads",
             name=f"upload_{t}_texts", tags=["device"]),
        Node(nodes.train_central_models,
             [f"{t}_text_uploads", prm, "params:model", "params:central", "params:seed",
              "params:seeds"],
             f"{t}_central_models", name=f"train_{t}_central", tags=["cloud"]),
        Node(nodes.fine_tune_on_devices, [dev, f"{t}_central_models", "params:on_device"],
             f"{t}_on_device_scores", name=f"fine_tune_{t}_on_devices", tags=["device"]),
        Node(nodes.learn_user_distributions,
             [dev, f"{t}_central_models", prm, "params:device_embeddings"],
             f"device_{t}_distributions", name=f"learn_{t}_distributions", tags=["device"]),
        Node(nodes.upload_with_embeddings, [dev, f"device_{t}_distributions"],
             [f"{t}_embedding_uploads", f"device_{t}_upload_owners"],
             name=f"upload_{t}_with_embeddings", tags=["device"]),
        Node(nodes.train_cloud_models,
             [f"{t}_central_models", f"{t}_embedding_uploads", "params:cloud"],
             f"{t}_cloud_models", name=f"train_{t}_cloud", tags=["cloud"]),
        Node(nodes.score_variants,
             [dev, f"{t}_central_models", f"{t}_cloud_models", f"device_{t}_distributions",
              f"{t}_on_device_scores"],
             f"{t}_scores", name=f"score_{t}_variants", tags=["device"]),
        Node(nodes.attack_uploads,
             [f"{t}_embedding_uploads", f"device_{t}_upload_owners", "params:attack"],
             f"{t}_attacks", name=f"attack_{t}_uploads", tags=["audit"]),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    """The anon_embed graph: both tasks' stages, the embedding projection, overhead, report."""
    graph = Pipeline([
        *_task_nodes("cls"),
        *_task_nodes("gen"),
        Node(nodes.embedding_projection,
             ["cls_embedding_uploads", "device_cls_upload_owners", "params:projection"],
             "cls_embedding_projection", name="project_cls_embeddings", tags=["audit"]),
        Node(nodes.measure_overhead,
             ["device_cls_split", "cls_cloud_models", "device_cls_distributions",
              "params:overhead"],
             "inference_overhead", name="measure_prefix_overhead", tags=["device"]),
        Node(report.training_histories,
             ["cls_central_models", "cls_cloud_models", "gen_central_models", "gen_cloud_models"],
             "training_histories", name="collect_training_histories", tags=["cloud"]),
        Node(report.report_anon_embed,
             ["cls_scores", "gen_scores", "cls_attacks", "gen_attacks",
              "cls_embedding_projection", "inference_overhead", "params:report",
              "training_histories"],
             "report", name="report_anon_embed"),
    ])
    return Pipeline(graph, namespace="anon_embed", inputs={"labelled_dialogue", "script_turns"},
                    prefix_datasets_with_namespace=True)
