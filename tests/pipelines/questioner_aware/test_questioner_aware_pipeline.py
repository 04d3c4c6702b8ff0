"""The questioner_aware pipeline end to end on a tiny data set, and its caches."""

from pathlib import Path

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.config import load_parameters
from dcpipelines.datasets import CacheDataset
from dcpipelines.pipelines.questioner_aware import create_pipeline, nodes
from dcpipelines.pipelines.questioner_aware.pipeline import VARIANTS

ROOT = Path(__file__).resolve().parents[3]


LINES = ["how now, my lord?", "what news from the court?", "shall we go?", "is it late?"]


def pairs_table() -> pd.DataFrame:
    """Both questioners ask the same lines; the reply depends only on who asks."""
    rows = []
    for k in range(48):
        questioner = "AB"[k % 2]
        rows.append({
            "pair_id": f"play:{k}", "source": "play", "language": "en", "episode": f"e{k // 4}",
            "questioner": questioner, "query": LINES[(k // 2) % 4], "responder": "R",
            "response": "my lord, i come" if questioner == "A" else "away with thee",
            "split": "test" if k % 8 in (6, 7) else "train",
        })
    return pd.DataFrame(rows)


def params() -> dict:
    values = load_parameters("questioner_aware", env="test")
    values["clustering"]["k"] = 2
    return values


def direction_params() -> dict:
    """The test sizes, trained long enough on the tiny world for the effect to show."""
    values = params()
    values["runs"]["variants"] = ["zero_shot", "blind", "dual_no_cl", "full"]
    values["finetune"]["training"].update(steps=40, learning_rate=0.02)
    values["generation"]["do_sample"] = False  # greedy: the replies show what the models learnt
    return values


def test_pipeline_reports_every_variant_and_the_questioner_matters(tmp_path):
    pairs = pairs_table()
    turns = pd.DataFrame({"text": [*pairs["query"], *pairs["response"]] * 3})
    catalog = DataCatalog({
        "mqdialog_pairs": MemoryDataset(pairs),
        "script_turns": MemoryDataset(turns),
        "questioner_aware.query_embeddings": CacheDataset(str(tmp_path / "emb.parquet")),
        "questioner_aware.base_decoder": CacheDataset(str(tmp_path / "dec.pt")),
        **{f"params:questioner_aware.{k}": MemoryDataset(v) for k, v in direction_params().items()},
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["questioner_aware.report"].load()
    m = report.metrics
    ran = direction_params()["runs"]["variants"]
    for variant in VARIANTS:
        keys = {f"{variant}_rougeL", f"en_{variant}_rouge_l_paper", f"en_{variant}_rouge_l_paper_ci_low",
                f"en_{variant}_questioner_rank_acc", f"en_{variant}_repeat_rate"}
        assert keys <= set(m) if variant in ran else not keys & set(m)
    assert {"base_decoder_perplexity", "en_base_decoder_perplexity", "questioner_rank_chance"} <= set(m)
    assert m["num_questioners"] == 2 and m["num_clusters"] == 2
    assert m["en_questioner_rank_chance"] == 0.5  # the own reply against the other questioner's
    # the known answer: who asks decides the reply, so blind ranks at most half right and the
    # paper's model, and its ablation without contrast, rank them all right
    assert m["en_blind_questioner_rank_acc"] <= 0.5
    assert m["en_full_questioner_rank_acc"] == 1.0 and m["en_dual_no_cl_questioner_rank_acc"] == 1.0
    assert m["en_full_rouge_l_paper"] > m["en_blind_rouge_l_paper"]
    # the same by PMI, where the length of a reply does not matter: blind cannot beat half,
    # a questioner-aware model can rank them all right
    assert m["en_blind_questioner_rank_acc_pmi"] <= 0.5
    assert max(m[f"en_{v}_questioner_rank_acc_pmi"] for v in ("dual_no_cl", "full")) == 1.0
    # the replies name nobody, but each questioner always gets the same one: fully identifiable
    assert m["en_bow_questioner_rank_acc"] == 1.0 and m["en_bow_questioner_rank_chance"] == 0.5
    assert "full_awareness_spread" in m
    assert (tmp_path / "dec.pt").is_file() and (tmp_path / "emb.parquet").is_file()


def test_pretraining_leaves_out_validation_and_test_turns():
    pairs = pairs_table()
    turns = pd.DataFrame({"text": ["is it late?", "a line nobody says in a pair", "away with thee"]})
    corpus = nodes.pretraining_corpus(turns, pairs)
    assert corpus == ["a line nobody says in a pair"]


def test_embeddings_come_from_the_stored_table_when_present(tmp_path):
    pairs = pairs_table()
    texts = sorted(set(pairs["query"]))
    stored = pd.DataFrame({"text": texts, "embedding": [[float(i)] * 3 for i in range(len(texts))]})
    store = CacheDataset(str(tmp_path / "emb.parquet"))
    store.save(stored)
    store.save(nodes.embed_queries(pairs, {"batch_size": 8}))  # other key: rebuilt from the memo
    reloaded = [[float(x) for x in vector] for vector in store.load()["embedding"]]
    assert reloaded == stored["embedding"].tolist()  # nothing re-embedded


def test_base_decoder_is_reused_only_for_the_same_inputs(tmp_path):
    decoder = params()["decoder"]
    texts = [*pairs_table()["query"], *pairs_table()["response"]] * 2
    store = CacheDataset(str(tmp_path / "dec.pt"))
    store.save(nodes.pretrain_base_decoder(texts, decoder, seed=0))
    first = store.load()
    stamp = (tmp_path / "dec.pt").stat().st_mtime_ns
    store.save(nodes.pretrain_base_decoder(texts, decoder, seed=0))
    assert (tmp_path / "dec.pt").stat().st_mtime_ns == stamp  # same inputs: not trained again
    store.save(nodes.pretrain_base_decoder(texts, decoder, seed=1))
    again = store.load()
    assert again["fingerprint"] != first["fingerprint"]
    key = next(iter(first["state_dict"]))
    assert not np.allclose(first["state_dict"][key].numpy(), again["state_dict"][key].numpy())


def test_an_untrained_variant_is_ranked_once_and_sampled_per_seed():
    values = params()
    pairs = pairs_table().assign(cluster=0)
    base = nodes._pretrain([*pairs["query"], *pairs["response"]] * 2, values["decoder"], 0, "stamp")
    candidates = nodes.rank_candidates(pairs, values["ranking"], 0)
    runs = {"seeds": 2, "variants": ["zero_shot"]}
    args = (pairs, base, candidates, values["data"], values["finetune"], values["generation"])
    first, second = nodes.variant_runner("zero_shot")(*args, runs, 0)["runs"]
    assert second["rank"] is first["rank"]  # reused, not scored again
    fresh = nodes.train_and_generate("zero_shot", *args, second["seed"])
    pd.testing.assert_frame_equal(fresh["rank"], first["rank"])  # what scoring again would give
    assert first["seed"] != second["seed"]
    assert first["replies"]["reply"].tolist() != second["replies"]["reply"].tolist()  # sampled per seed
