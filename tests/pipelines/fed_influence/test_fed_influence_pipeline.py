"""The fed_influence pipeline on the real digits table, shrunk, through an in-memory catalog.

Beyond the report's keys, the test configuration is large enough for the direction of each
headline result to show, and the test asserts it.
"""

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.config import load_parameters
from dcpipelines.core.data import load_digits_table
from dcpipelines.pipelines.fed_influence import create_pipeline

PARAMS = load_parameters("fed_influence", env="test")


@pytest.fixture(scope="module")
def outputs():
    catalog = DataCatalog({
        "digits": MemoryDataset(load_digits_table()),
        **{f"params:fed_influence.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
        **{f"params:fed_influence.partial_participation.{k}": MemoryDataset(v)
           for k, v in PARAMS["partial_participation"].items()},
    })
    return SequentialRunner().run(create_pipeline(), catalog)


def test_report_has_the_named_figures(outputs):
    m = outputs["fed_influence.report"].load().metrics
    for key in ["convex_cosine", "convex_relative_error", "nonconvex_cosine",
                "nonconvex_relative_error", "size_baseline_spearman",
                "partial_participation_spearman", "partial_participation_spearman_ci_low",
                "debug_precision_at_k_mean", "debug_precision_at_k_random",
                *[f"overhead_vs_loo_ratio_k{k}" for k in PARAMS["cost_sweep"]["num_clients"]]]:
        assert key in m, key
    assert m["seeds"] == PARAMS["seeds"]
    assert m["num_clients"] == PARAMS["split"]["num_clients"]


def test_estimates_agree_with_leave_one_out(outputs):
    m = outputs["fed_influence.report"].load().metrics
    # estimated and retrained parameter differences point the same way and rank alike
    assert m["convex_cosine"] > 0.9 and m["convex_relative_error"] < 0.5
    assert m["nonconvex_cosine"] > 0.8
    assert m["convex_spearman"] > 0.8
    assert m["partial_participation_spearman"] > 0.8
    # ... and better than ranking clients by their size alone
    assert m["partial_participation_spearman"] > m["size_baseline_spearman"]


def test_debugging_beats_a_random_ranking(outputs):
    m = outputs["fed_influence.report"].load().metrics
    # at test size (8 clients, 10 rounds) only the full flip shows; the 30% flip is judged
    # on the default run's figures over seeds
    assert m["debug_flipped_all_precision_at_k"] > m["debug_flipped_all_precision_at_k_random"]
    ranking = outputs["fed_influence.report"].load().tables["debug_ranking"]
    per_run = ranking.groupby(["corruption", "seed"])["corrupted"].sum()
    assert (per_run == PARAMS["debugging"]["k"]).all()


def test_cost_grows_with_clients_and_a_tracked_subset_is_cheaper(outputs):
    m = outputs["fed_influence.report"].load().metrics
    small, large = PARAMS["cost_sweep"]["num_clients"]
    # tracking every client costs about as much as retraining, at every K
    assert m[f"overhead_vs_loo_ratio_k{large}"] > 0.5
    # tracking a fixed subset gets relatively cheaper as K grows
    assert (m[f"subset_overhead_vs_loo_ratio_k{large}"]
            < m[f"subset_overhead_vs_loo_ratio_k{small}"])
    assert m[f"estimation_vs_plain_flops_ratio_k{large}"] > m[f"estimation_vs_plain_flops_ratio_k{small}"]


def test_curves_and_global_models(outputs):
    report = outputs["fed_influence.report"].load()
    curve = report.histories["partial_participation_rounds"]
    assert len(curve) == PARAMS["partial_participation"]["training"]["rounds"]
    # training lowers the test loss
    assert curve["test_loss"].iloc[-1] < curve["test_loss"].iloc[0]
    models = outputs["fed_influence.mlflow_models"].load()
    assert set(models) == {"fed_influence_convex", "fed_influence_nonconvex",
                           "fed_influence_partial_participation"}
    entry = models["fed_influence_nonconvex"]
    assert entry["module"](entry["example_input"]).shape == (1, 10)
