"""The RouteT2I graph: prompts -> scorer and generators (cached, trained side by side) -> measured quality (cached)
-> routers, once per seed -> budgeted routing curves, the premise check and costs -> report.

By default the prompts are the procedural scene world's and the generators and scorer are
trained here; with ``adapters`` set, the prompts are a PartiPrompts sample and two local
diffusers pipelines and a local CLIP model take their place (same graph, same report)."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.route_t2i import nodes, report


def create_pipeline(**kwargs) -> Pipeline:
    """The route_t2i pipeline, namespaced ``route_t2i``."""
    graph = Pipeline(
        [
            Node(nodes.pick_model_source, ["params:world", "params:adapters"], "model_source",
                 name="pick_model_source", tags=["cloud"]),
            Node(nodes.analyse_prompt_mix, "t2i_prompts", "prompt_mix",
                 name="analyse_prompt_mix", tags=["cloud"]),
            Node(nodes.build_scene_prompts, ["t2i_prompts", "params:seed", "model_source"], "scene_prompts",
                 name="build_scene_prompts", tags=["cloud"]),
            Node(nodes.embed_prompts, "scene_prompts", "prompt_embedding_cache",
                 name="embed_prompts", tags=["cloud"]),
            Node(nodes.load_embeddings, "prompt_embedding_cache", "prompt_embeddings",
                 name="load_embeddings", tags=["cloud"]),
            Node(nodes.fit_models,
                 ["scene_prompts", "prompt_embeddings", "params:seed", "params:generators", "params:scorer",
                  "params:workers", "model_source"],
                 "world_models", name="fit_models", tags=["cloud"]),
            Node(nodes.open_models, "world_models", ["generators", "scorer"], name="open_models", tags=["cloud"]),
            Node(nodes.hand_device_models, "generators", "device_models",
                 name="hand_device_models", tags=["cloud"]),
            Node(nodes.check_scorer,
                 ["scorer", "params:seed", "params:world", "params:scorer", "model_source"],
                 "scorer_validation", name="check_scorer", tags=["cloud"]),
            Node(nodes.measure_quality,
                 ["scene_prompts", "prompt_embeddings", "generators", "scorer", "params:seed", "model_source"],
                 "measurement", name="measure_quality", tags=["cloud"]),
            Node(nodes.unpack_measurement, ["measurement", "scene_prompts"],
                 ["measured_quality", "example_images", "generation_info"],
                 name="unpack_measurement", tags=["cloud"]),
            Node(nodes.embed_tokens, "scene_prompts", "token_feature_cache", name="embed_tokens", tags=["cloud"]),
            Node(nodes.fit_routers,
                 ["scene_prompts", "prompt_embeddings", "measured_quality", "token_feature_cache", "params:seed",
                  "params:seeds", "params:router", "params:workers"],
                 ["router_models", "router_predictions"], name="fit_routers", tags=["cloud"]),
            Node(nodes.hand_mlflow_models, "router_models", "mlflow_models",
                 name="hand_mlflow_models", tags=["cloud"]),
            Node(nodes.evaluate_routing,
                 ["scene_prompts", "measured_quality", "router_predictions", "params:seed", "params:router"],
                 ["routing_curves", "routing_per_seed"], name="evaluate_routing", tags=["device"]),
            Node(nodes.check_premise, ["scene_prompts", "measured_quality", "params:router"],
                 "premise_metrics", name="check_premise", tags=["cloud"]),
            Node(nodes.routing_costs,
                 ["generators", "generation_info", "params:costs", "params:router", "model_source",
                  "routing_curves"],
                 ["cost_table", "cost_budgets"], name="routing_costs", tags=["cloud"]),
            Node(nodes.time_routing, ["router_models", "params:timing"], "timing",
                 name="time_routing", tags=["device"]),
            Node(report.summarise_models,
                 ["generators", "scorer", "scorer_validation", "generation_info", "router_models", "timing",
                  "model_source"],
                 "model_metrics", name="summarise_models", tags=["cloud"]),
            Node(report.summarise_routing, ["routing_per_seed", "premise_metrics"], "routing_metrics",
                 name="summarise_routing", tags=["cloud"]),
            Node(report.summarise_quality, ["scene_prompts", "measured_quality", "cost_budgets", "prompt_mix"],
                 "quality_metrics", name="summarise_quality", tags=["cloud"]),
            Node(report.report_tables,
                 ["prompt_mix", "scene_prompts", "measured_quality", "router_predictions", "routing_curves",
                  "scorer_validation", "cost_table", "cost_budgets"],
                 "report_tables", name="report_tables", tags=["cloud"]),
            Node(report.training_histories, ["generators", "scorer", "router_models"], "histories",
                 name="training_histories", tags=["cloud"]),
            Node(report.report_route_t2i,
                 ["routing_metrics", "routing_per_seed", "model_metrics", "quality_metrics", "report_tables",
                  "routing_curves", "example_images", "histories"],
                 "report", name="report_route_t2i", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="route_t2i", inputs={"t2i_prompts"},
                    prefix_datasets_with_namespace=True)
