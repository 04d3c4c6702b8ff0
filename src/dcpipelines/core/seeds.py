"""One seed rule: every pipeline's ``seed`` defaults to the global one, and each random purpose
inside a pipeline derives its own stream from it through a named offset listed here.

Offsets are part of the results: changing one changes the figures of the pipelines using it.
"""

from __future__ import annotations

# purpose -> offset added to the pipeline's seed. Names are "<pipeline>.<purpose>" unless the
# purpose is shared by several pipelines.
SEED_OFFSETS: dict[str, int] = {
    "fed_influence.corrupted_clients": 1,
    "route_t2i.scorer_scenes": 101,
    "route_t2i.scorer_training": 102,
    "route_t2i.scorer_validation": 103,
    "route_t2i.router_training": 201,
    "route_t2i.single_metric_training": 202,
    "route_t2i.random_router": 301,
    "nn.augmentation": 1,
    "route_t2i.edge_generator": 0,
    "route_t2i.cloud_generator": 1,
    # depth_edge: offsets far apart, so that consecutive run seeds never share a stream
    "depth_edge.train_frames": 1000,
    "depth_edge.val_frames": 2000,
    "depth_edge.test_frames": 3000,
    "depth_edge.train_blur": 4000,
    "depth_edge.test_blur": 5000,
    "depth_edge.split": 6000,
    "depth_edge.init": 7000,
    "depth_edge.training": 8000,
    "dc_ccl.split": 0,
    "dc_ccl.cloud_training": 401,
    "dc_ccl.mimic": 402,
    "dc_ccl.rounds": 403,
    "dc_ccl.co_no_mimic": 404,
    "dc_ccl.device_only": 405,
    "iciia.image_pools": 1000,
    "iciia.backbone": 2000,
    "iciia.clients": 3000,
    "iciia.training": 4000,
    "coda.user_sample": 0,
    "coda.cloud_training": 1,
    "coda.downloads": 2,
    "coda.finetune": 3,
    "coda.timing_users": 4,
    "anon_embed.new_users": 1,
    "anon_embed.uploads": 11,
    "anon_embed.central": 12,
    "anon_embed.on_device": 13,
    "anon_embed.device_embeddings": 14,
    "anon_embed.cloud": 15,
    "anon_embed.scoring": 16,
    "anon_embed.attack": 17,
    # walle's release simulation: offsets far apart, so that run seeds never share a stream
    "walle.release_sweeps": 1000,
    "walle.release_validation": 2000,
    "walle.release_plans": 3000,
    "fedsubavg.heterogeneity": 5000,
    "fed_influence.random_ranking": 2,
    "questioner_aware.rank_candidates": 1,
    "questioner_aware.sampling": 2,
    "questioner_aware.awareness": 3,
}


def derive_seed(seed: int, purpose: str) -> int:
    """The seed for one named purpose (see :data:`SEED_OFFSETS`)."""
    try:
        return int(seed) + SEED_OFFSETS[purpose]
    except KeyError:
        raise KeyError(
            f"unknown seed purpose {purpose!r}: add it to SEED_OFFSETS in "
            "dcpipelines/core/seeds.py"
        ) from None


def seed_list(seed: int, count: int) -> list[int]:
    """``count`` run seeds starting at the pipeline's seed: seed, seed + 1, ..."""
    if int(count) < 1:
        raise ValueError(f"the number of seeds must be at least 1, got {count}")
    return [int(seed) + i for i in range(int(count))]
