"""Shared fixtures: a throw-away copy of the project and a helper to run Kedro in it."""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The environment every subprocess of the tests runs with: offline, no telemetry, one thread
# per process (the smoke runs go two at a time on a 2-core machine).
TEST_ENV = {
    **os.environ,
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "FLWR_TELEMETRY_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
}


def copy_project(destination: Path) -> Path:
    """Copy what a run needs (config, raw data, project metadata) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ["pyproject.toml", ".telemetry", "dvc.yaml", "README.md"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, destination / name)
    (destination / "src").mkdir()  # the package itself is imported from the installed project
    shutil.copytree(ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local"))
    (destination / "conf" / "local").mkdir()
    for layer in sorted((ROOT / "data").iterdir()):
        if layer.name == "01_raw":
            shutil.copytree(layer, destination / "data" / layer.name)
        elif layer.is_dir():
            (destination / "data" / layer.name).mkdir(parents=True)
    return destination


def kedro(project: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run ``kedro ARGS`` in ``project``; output is captured for assertion messages."""
    return subprocess.run(
        [str(BIN / "kedro"), *args], cwd=project, env=TEST_ENV, capture_output=True,
        text=True, timeout=timeout,
    )


def write_image_table(path: Path, n: int, *, seed: int = 0, size: int = 32) -> Path:
    """A labelled image table in the shipped CIFAR-10 format: n random PNGs, alternating
    train/test, labels 0, 1, 2, ... (mod 10)."""
    import io

    import numpy as np
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    pd.DataFrame({
        "split": ["train", "test"] * (n // 2) + ["train"] * (n % 2),
        "label": [i % 10 for i in range(n)],
        "label_name": [f"class{i % 10}" for i in range(n)],
        "file": [f"f{i}.png" for i in range(n)],
        "image": images,
    }).to_parquet(path, index=False)
    return path


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


# ---------------------------------------------------------------- tiny random real-model folders
# A Stable Diffusion pipeline and a CLIP model with random weights, small enough to run in
# seconds, saved with save_pretrained the way a user's local model folders are.
def _tokenizer(folder):
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(string.ascii_lowercase + string.digits)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + symbols + [s + "</w>" for s in symbols]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                        unk_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=16)
    return tok, len(tokens)


def _text_config(vocab: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=vocab, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                          num_hidden_layers=2, max_position_embeddings=32, projection_dim=16,
                          bos_token_id=0, eos_token_id=1, pad_token_id=1)


def build_tiny_sd(folder: Path, seed: int = 0, widths: tuple[int, int] = (8, 16)) -> Path:
    """A random Stable Diffusion pipeline saved under ``folder / "pipe"``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    tok, vocab = _tokenizer(folder / "tok_src")
    unet = UNet2DConditionModel(block_out_channels=widths, layers_per_block=1, sample_size=8,
                                in_channels=4, out_channels=4, norm_num_groups=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=32, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=16)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=CLIPTextModel(_text_config(vocab)), tokenizer=tok,
                                   unet=unet, scheduler=DDIMScheduler(clip_sample=False, steps_offset=1), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder / "pipe")
    return folder / "pipe"


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_sd_large_folder(tmp_path_factory):
    """A second, wider random pipeline (a stand-in for the large cloud model)."""
    return build_tiny_sd(tmp_path_factory.mktemp("tiny_sd_large"), seed=1, widths=(16, 32))


@pytest.fixture(scope="session")
def tiny_clip_folder(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig

    folder = tmp_path_factory.mktemp("tiny_clip")
    import torch

    torch.manual_seed(0)
    tok, vocab = _tokenizer(folder / "tok_src")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                              image_size=16, patch_size=4, projection_dim=16)
    config = CLIPConfig(text_config=_text_config(vocab).to_dict(), vision_config=vision.to_dict(),
                        projection_dim=16)
    CLIPModel(config).save_pretrained(folder / "clip")
    tok.save_pretrained(folder / "clip")
    return folder / "clip"




def planted_image_set(per_class: int, *, seed: int = 0, test_per_class: int | None = None):
    """An ImageSet of 32x32 noise images in which each of 10 classes plants a bright 8x8
    block at its own place and channel: a task any small CNN learns in a few epochs."""
    import numpy as np

    from dcpipelines.core.data.images import ImageSet

    rng = np.random.default_rng(seed)
    test_per_class = per_class if test_per_class is None else test_per_class
    images, labels, split = [], [], []
    for part, count in (("train", per_class), ("test", test_per_class)):
        for c in range(10):
            block = rng.normal(110, 35, (count, 32, 32, 3))
            r, q = divmod(c, 4)
            block[:, 8 * r:8 * r + 8, 8 * q:8 * q + 8, c % 3] += 120
            images.append(np.clip(block, 0, 255).astype(np.uint8))
            labels += [c] * count
            split += [part] * count
    n = len(labels)
    return ImageSet(np.concatenate(images), np.asarray(labels, dtype=np.int64),
                    np.asarray(split), np.asarray([f"img{i}" for i in range(n)]),
                    tuple(f"class{c}" for c in range(10)))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """torch with one thread, as in a ``kedro run`` (settings.py): figures computed in tests are
    the figures a run gives (floating-point sums depend on the thread count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
