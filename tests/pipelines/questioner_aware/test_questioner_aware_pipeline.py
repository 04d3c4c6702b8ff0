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


LINES = {
    "A": ["how now, my lord?", "what news from the court?", "shall we go?", "is it late?"],
    "B": ["good morrow, sir!", "where is the king?", "art thou well?", "who comes here?"],
}


def pairs_table() -> pd.DataFrame:
    rows = []
    for k in range(48):
        questioner = "AB"[k % 2]
        rows.append({
            "pair_id": f"play:{k}", "source": "play", "language": "en", "episode": f"e{k // 4}",
            "questioner": questioner, "query": LINES[questioner][k % 4], "responder": "R",
            "response": "my lord, i come" if questioner == "A" else "away with thee",
            "split": "test" if k % 8 in (6, 7) else "train",
        })
    return pd.DataFrame(rows)


def params() -> dict:
    values = load_parameters("questioner_aware", env="test")
    values["clustering"]["k"] = 2
    return values


def test_pipeline_reports_every_variant(tmp_path):
    pairs = pairs_table()
    turns = pd.DataFrame({"text": [*pairs["query"], *pairs["response"]] * 3})
    catalog = DataCatalog({
        "mqdialog_pairs": MemoryDataset(pairs),
        "script_turns": MemoryDataset(turns),
        "questioner_aware.query_embeddings": CacheDataset(str(tmp_path / "emb.parquet")),
        "questioner_aware.base_decoder": CacheDataset(str(tmp_path / "dec.pt")),
        **{f"params:questioner_aware.{k}": MemoryDataset(v) for k, v in params().items()},
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["questioner_aware.report"].load()
    for variant in VARIANTS:
        for metric in ("bleu", "rougeL", "distinct2"):
            assert f"{variant}_{metric}" in report.metrics
    assert {"num_questioners", "num_responders", "num_pairs", "num_clusters"} <= set(report.metrics)
    assert report.metrics["num_questioners"] == 2 and report.metrics["num_clusters"] == 2
    assert "full_awareness_spread" in report.metrics
    assert (tmp_path / "dec.pt").is_file() and (tmp_path / "emb.parquet").is_file()


def test_pretraining_leaves_out_validation_and_test_turns():
    pairs = pairs_table()
    turns = pd.DataFrame({"text": ["shall we go?", "a line nobody says in a pair", "away with thee"]})
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
