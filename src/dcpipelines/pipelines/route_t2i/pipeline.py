"""The RouteT2I graph: prompts -> generators and scorer (cached) -> measured quality ->
routers -> budgeted routing curves and costs -> report.

By default the prompts are the procedural scene world's and the generators and scorer are
trained here; with ``adapters`` set, the prompts are a PartiPrompts sample and two local
diffusers pipelines and a local CLIP model take their place (same graph, same report)."""

from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.route_t2i import nodes


def create_pipeline(**kwargs) -> Pipeline:
    graph = Pipeline(
        [
            Node(nodes.analyse_prompt_mix, "t2i_prompts", "prompt_mix",
                 name="analyse_prompt_mix", tags=["cloud"]),
            Node(nodes.build_scene_prompts,
                 ["t2i_prompts", "params:seed", "params:world", "params:adapters"], "scene_prompts",
                 name="build_scene_prompts", tags=["cloud"]),
            Node(nodes.embed_prompts, "scene_prompts", "prompt_embeddings",
                 name="embed_prompts", tags=["cloud"]),
            Node(nodes.fit_generators,
                 ["scene_prompts", "prompt_embeddings", "params:seed", "params:world",
                  "params:generators", "params:adapters", "generators_cache"],
                 "generators", name="fit_generators", tags=["cloud"]),
            Node(nodes.fit_scorer,
                 ["params:seed", "params:world", "params:scorer", "params:adapters", "scorer_cache"],
                 "scorer", name="fit_scorer", tags=["cloud"]),
            Node(nodes.validate_scorer,
                 ["scorer", "params:seed", "params:world", "params:scorer", "params:adapters"],
                 "scorer_validation", name="validate_scorer", tags=["cloud"]),
            Node(nodes.generate_and_measure,
                 ["scene_prompts", "prompt_embeddings", "generators", "scorer", "params:world",
                  "params:adapters", "params:seed", "measured_quality_cache"],
                 ["measured_quality", "example_images", "generation_info"],
                 name="generate_and_measure", tags=["cloud"]),
            Node(nodes.fit_routers,
                 ["scene_prompts", "prompt_embeddings", "measured_quality", "params:seed",
                  "params:router"],
                 ["router_models", "router_predictions"], name="fit_routers", tags=["cloud"]),
            Node(nodes.evaluate_routing,
                 ["scene_prompts", "measured_quality", "router_predictions", "params:seed",
                  "params:router"],
                 ["routing_curves", "routing_metrics"], name="evaluate_routing", tags=["device"]),
            Node(nodes.routing_costs,
                 ["generators", "generation_info", "params:world", "params:costs", "params:router",
                  "params:adapters", "routing_curves"],
                 ["cost_table", "cost_budgets"], name="routing_costs", tags=["cloud"]),
            Node(nodes.time_routing, ["router_models", "params:timing"], "timing",
                 name="time_routing", tags=["device"]),
            Node(nodes.report_route_t2i,
                 ["prompt_mix", "scene_prompts", "generators", "scorer", "scorer_validation",
                  "measured_quality", "example_images", "generation_info", "router_models",
                  "router_predictions", "routing_curves", "routing_metrics", "cost_table",
                  "cost_budgets", "timing", "params:adapters"],
                 "report", name="report_route_t2i", tags=["cloud"]),
        ]
    )
    return Pipeline(graph, namespace="route_t2i", inputs={"t2i_prompts"},
                    prefix_datasets_with_namespace=True)
