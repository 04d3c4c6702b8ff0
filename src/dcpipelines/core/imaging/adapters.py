"""Adapters for real pretrained models stored on local disk.

* :class:`DiffusersGenerator` wraps a ``diffusers`` text-to-image pipeline loaded with
  ``DiffusionPipeline.from_pretrained(path, local_files_only=True)``: prompts in, images out as
  a float32 numpy array (N, H, W, 3) in [0, 1], the layout the project's generators use.
* :class:`ClipScorer` wraps a Hugging Face ``transformers`` ``CLIPModel`` with its
  ``CLIPTokenizer``. open_clip is not used: it needs torchvision, which does not work with the
  pinned torch. Images are resized and normalised here in torch (no image processor, which
  would also want torchvision). The quality of an image on a text pair is
  ``sigmoid(scale * (cos(img, pos) - cos(img, neg)))``, as in :mod:`.scorer`; by default the
  scale is the model's own ``logit_scale.exp()``, which makes it the two-way CLIP softmax.

Nothing is downloaded: a missing or incomplete folder is an error naming the folder.
``diffusers`` and ``transformers`` are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dcpipelines.core.data.errors import DataValidationError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _local_folder(path: str | Path, what: str, marker: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise DataValidationError(folder, f"{what} folder does not exist",
                                  fix=f"save the {what} there with save_pretrained, or set the path to null")
    if not (folder / marker).is_file():
        raise DataValidationError(folder / marker, f"missing: this folder does not hold a saved {what}",
                                  fix=f"point the path at a folder written by save_pretrained ({marker})")
    return folder


def _check_pairs(n_images: int, positives: list[str], negatives: list[str]) -> None:
    if not (n_images == len(positives) == len(negatives)):
        raise ValueError("one positive and one negative text per image are needed, got "
                         f"{n_images} images, {len(positives)} positives, {len(negatives)} negatives")


class DiffusersGenerator:
    """A local diffusers text-to-image pipeline: ``gen(prompts, seed)`` -> (N, H, W, 3) in [0, 1]."""

    def __init__(self, path: str | Path, num_inference_steps: int = 20, guidance_scale: float = 7.5,
                 height: int | None = None, width: int | None = None, batch_size: int = 4,
                 seed: int = 0) -> None:
        from diffusers import DiffusionPipeline

        folder = _local_folder(path, "diffusers pipeline", "model_index.json")
        self.pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
        self.pipe.set_progress_bar_config(disable=True)
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.height, self.width = height, width
        self.batch_size = batch_size
        self.seed = seed

    def __call__(self, prompts: list[str], seed: int | None = None,
                 seeds: list[int] | None = None) -> np.ndarray:
        """Images for ``prompts``. With ``seeds`` (one per prompt) each image has its own noise
        generator, so an image does not depend on which batch its prompt fell into; otherwise
        one generator seeded with ``seed`` (or the constructor's) runs through the batches."""
        import torch

        if isinstance(prompts, str) or not prompts:
            raise ValueError("prompts must be a non-empty list of strings")
        if seeds is not None and len(seeds) != len(prompts):
            raise ValueError(f"one seed per prompt is needed, got {len(seeds)} seeds for {len(prompts)} prompts")
        shared = torch.Generator("cpu").manual_seed(self.seed if seed is None else seed)
        out = []
        for i in range(0, len(prompts), self.batch_size):
            batch = list(prompts[i:i + self.batch_size])
            generator = shared if seeds is None else [
                torch.Generator("cpu").manual_seed(int(s)) for s in seeds[i:i + self.batch_size]]
            result = self.pipe(prompt=batch, num_inference_steps=self.num_inference_steps,
                               guidance_scale=self.guidance_scale, height=self.height,
                               width=self.width, generator=generator, output_type="np")
            out.append(np.asarray(result.images, dtype=np.float32))
        return np.clip(np.concatenate(out), 0.0, 1.0)

    def parameter_count(self) -> int:
        """Parameters of every torch module of the pipeline (text encoder, denoiser, decoder)."""
        import torch

        return sum(p.numel() for c in self.pipe.components.values() if isinstance(c, torch.nn.Module)
                   for p in c.parameters())


class ClipScorer:
    """A local transformers CLIP model used as a text-pair quality scorer."""

    def __init__(self, path: str | Path, scale: float | None = None, batch_size: int = 32) -> None:
        import torch
        from transformers import CLIPModel, CLIPTokenizer

        folder = _local_folder(path, "CLIP model", "config.json")
        self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.tokenizer = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.batch_size = max(int(batch_size), 1)
        with torch.no_grad():
            self.scale = float(self.model.logit_scale.exp()) if scale is None else float(scale)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-length text embeddings (N, D); each distinct text is encoded once."""
        import torch

        texts = list(texts)
        row: dict[str, int] = {}
        for text in texts:
            row.setdefault(text, len(row))
        unique, out = list(row), []
        for i in range(0, len(unique), self.batch_size):
            tokens = self.tokenizer(unique[i:i + self.batch_size], padding=True, truncation=True,
                                    return_tensors="pt")
            with torch.no_grad():
                z = self.model.get_text_features(input_ids=tokens["input_ids"],
                                                 attention_mask=tokens["attention_mask"])
            z = getattr(z, "pooler_output", z)
            out.append(torch.nn.functional.normalize(z, dim=-1).numpy())
        return np.concatenate(out)[[row[t] for t in texts]]

    def pixel_values(self, images: np.ndarray) -> Any:
        """(N, H, W, 3) in [0, 1] -> CLIP input (N, 3, S, S): bicubic resize and normalise."""
        import torch

        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3) in [0, 1], got shape {images.shape}")
        x = torch.as_tensor(images).permute(0, 3, 1, 2)
        x = torch.nn.functional.interpolate(x, size=(self.image_size, self.image_size),
                                            mode="bicubic", align_corners=False).clamp(0, 1)
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """Unit-length image embeddings (N, D)."""
        import torch

        images, out = np.asarray(images, dtype=np.float32), []
        for i in range(0, len(images), self.batch_size):
            with torch.no_grad():
                z = self.model.get_image_features(pixel_values=self.pixel_values(images[i:i + self.batch_size]))
            z = getattr(z, "pooler_output", z)
            out.append(torch.nn.functional.normalize(z, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.projection_dim), np.float32)

    def quality(self, images: np.ndarray, positives: list[str], negatives: list[str]) -> np.ndarray:
        """``sigmoid(scale * (cos(img_i, pos_i) - cos(img_i, neg_i)))`` for each image (N,)."""
        _check_pairs(len(images), positives, negatives)  # before the costly image encoding
        return self.quality_of_embeddings(self.embed_images(images), positives, negatives)

    def quality_of_embeddings(self, image_embeddings: np.ndarray, positives: list[str],
                              negatives: list[str]) -> np.ndarray:
        """:meth:`quality` for images already embedded with :meth:`embed_images` (so several
        text pairs can be scored without encoding the images again)."""
        _check_pairs(len(image_embeddings), positives, negatives)
        margin = (image_embeddings * (self.embed_texts(positives) - self.embed_texts(negatives))).sum(-1)
        return 1.0 / (1.0 + np.exp(-self.scale * margin.astype(np.float64)))
