"""One seed rule: every pipeline's ``seed`` is the global one, and ``--params seed=N`` changes
it for every pipeline and for the hook that seeds each node."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from dcpipelines.config import load_parameters
from dcpipelines.hooks import SeedHooks

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_SEED = yaml.safe_load((ROOT / "conf/base/globals.yml").read_text())["seed"]


def _seeded_pipelines(env: str) -> list[str]:
    return sorted(name for name, block in load_parameters(env=env).items()
                  if isinstance(block, dict) and "seed" in block)


@pytest.mark.parametrize("env", ["base", "test"])
def test_every_pipeline_seed_is_the_global_seed(env):
    names = _seeded_pipelines(env)
    assert {"fed_influence", "fedsubavg", "route_t2i", "walle"} <= set(names)
    params = load_parameters(env=env)
    assert params["seed"] == GLOBAL_SEED
    assert {name: params[name]["seed"] for name in names} == dict.fromkeys(names, GLOBAL_SEED)


@pytest.mark.parametrize("env", ["base", "test"])
def test_params_seed_changes_every_pipeline_seed(env):
    new = GLOBAL_SEED + 5
    params = load_parameters(env=env, runtime_params={"seed": new})
    assert params["seed"] == new
    assert all(params[name]["seed"] == new for name in _seeded_pipelines(env))


def test_no_parameters_file_sets_its_own_seed():
    literal = re.compile(r"^\s+seed:\s*\d+", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("conf/*/parameters*.yml"))
                 if literal.search(p.read_text())]
    assert offenders == [], "set `seed: ${runtime_params:seed,${globals:seed}}` instead"


def test_the_hook_seeds_from_the_same_global_seed():
    import numpy as np

    hooks = SeedHooks()
    hooks.after_context_created(SimpleNamespace(params=load_parameters(runtime_params={"seed": 11})))
    hooks.before_node_run(node=None)
    first = np.random.rand()
    hooks.before_node_run(node=None)
    assert hooks.seed == 11 and np.random.rand() == first
