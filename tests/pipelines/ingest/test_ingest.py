"""The ingest pipeline on small hand-made raw files, through a real catalog."""

import gzip

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.partitions import PartitionedDataset as Partitions

from conftest import write_image_table
from dcpipelines.datasets import (
    AtomicParquetDataset,
    ClickLogDataset,
    ImageSetDataset,
    ImageTableDataset,
    LabelledDialogueDataset,
    PromptTableDataset,
)
from dcpipelines.pipelines.ingest import create_pipeline


def test_ingest_builds_primary_tables(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "a.txt").write_text("ALICE:\nhello\n\nBOB:\nhi there\n")
    clicks = tmp_path / "clicks.tsv.gz"
    clicks.write_bytes(gzip.compress(b"label\tuser_id\titem_id\thistory\n1\t1\t5\t0\n0\t1\t6\t5\n"))
    prompts = tmp_path / "p.tsv"
    prompts.write_text("Prompt\tCategory\tChallenge\tNote\n a cat \tAnimals\tBasic\t\n")
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "\ufeffTV_ID,Dialogue_ID,Utterance_ID,Speaker,Sentiment,Emotion,DA,Utterance\n"
        "1,1_000,1_000_000,甲,Positive,happy,greeting,你好\n", encoding="utf-8"
    )
    catalog = DataCatalog(
        {
            "raw_scripts": Partitions(
                path=str(scripts), dataset="dcpipelines.datasets.ScriptDataset", filename_suffix=".txt"
            ),
            "raw_click_log": ClickLogDataset(str(clicks)),
            "raw_t2i_prompts": PromptTableDataset(str(prompts)),
            "raw_cifar10": ImageTableDataset(str(write_image_table(tmp_path / "img.parquet", 6))),
            "cifar10_images": ImageSetDataset(str(tmp_path / "cifar10_images.npz")),
            "raw_labelled_dialogue": LabelledDialogueDataset(str(labelled)),
            **{
                name: AtomicParquetDataset(str(tmp_path / f"{name}.parquet"))
                for name in ["click_log", "t2i_prompts", "script_turns", "labelled_dialogue"]
            },
            "params:ingest.reporting": MemoryDataset({"top_speakers": 3}),
        }
    )
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    click_log = catalog.load("click_log")
    assert click_log["history_length"].tolist() == [0, 1]
    assert catalog.load("t2i_prompts")["prompt"].tolist() == ["a cat"]
    assert catalog.load("script_turns")["speaker"].tolist() == ["ALICE", "BOB"]
    report = outputs["ingest.report"].load()
    assert report.metrics["click_log_rows"] == 2 and report.metrics["digits_rows"] == 1797
    images = catalog.load("cifar10_images")
    assert images.images.shape == (6, 32, 32, 3) and images.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert report.metrics["cifar10_train_images"] == 3
    utterances = catalog.load("labelled_dialogue")
    assert utterances[["speaker", "sentiment", "utterance"]].values.tolist() == [
        ["甲", "positive", "你好"]
    ]


def test_bad_raw_file_stops_the_run_and_writes_nothing(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "a.txt").write_text("ALICE:\nhello\n")
    clicks = tmp_path / "clicks.tsv"
    clicks.write_text("label\tuser_id\titem_id\thistory\n7\t1\t5\t0\n")
    target = tmp_path / "click_log.parquet"
    catalog = DataCatalog(
        {
            "raw_scripts": Partitions(
                path=str(scripts), dataset="dcpipelines.datasets.ScriptDataset", filename_suffix=".txt"
            ),
            "raw_click_log": ClickLogDataset(str(clicks)),
            "raw_t2i_prompts": PromptTableDataset(str(tmp_path / "missing.tsv")),
            "click_log": AtomicParquetDataset(str(target)),
            "params:ingest.reporting": MemoryDataset({"top_speakers": 3}),
        }
    )
    with pytest.raises(Exception) as err:
        SequentialRunner().run(create_pipeline().only_nodes("ingest.shape_click_log"), catalog)
    assert "line 2" in str(err.value) and "label" in str(err.value)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
