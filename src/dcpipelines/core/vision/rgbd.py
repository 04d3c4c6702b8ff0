"""Paired RGB / depth frames: a container, camera-motion blur, and a reader for folders of
paired RGB and 16-bit depth PNGs (the usual layout of RGB-D sets such as the forest set of
arXiv 2003.04359):

    <root>/rgb/<name>.png     8-bit RGB
    <root>/depth/<name>.png   16-bit single channel, depth = value x depth_scale metres
                              (0 = no measurement)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcpipelines.core.data.errors import DataValidationError


@dataclass(frozen=True)
class Frames:
    """RGB uint8 (N, H, W, 3) and depth float32 (N, h, w) in metres; depth 0 marks no data."""

    rgb: np.ndarray
    depth: np.ndarray

    def __post_init__(self) -> None:
        if self.rgb.ndim != 4 or self.rgb.shape[-1] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8 (N, H, W, 3), got {self.rgb.dtype} "
                             f"{self.rgb.shape}")
        if self.depth.ndim != 3 or len(self.depth) != len(self.rgb):
            raise ValueError(f"depth must be (N, h, w) with N = {len(self.rgb)}, "
                             f"got {self.depth.shape}")

    def __len__(self) -> int:
        return len(self.rgb)

    def take(self, index) -> Frames:
        """The items at index as a new object of the same kind."""
        return Frames(self.rgb[index], self.depth[index])


def downsample_depth(depth: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks of valid (> 0) depth; 0 where a block has none."""
    if factor == 1:
        return depth.astype(np.float32)
    n, h, w = depth.shape
    if h % factor or w % factor:
        raise ValueError(f"depth size {h}x{w} is not divisible by the factor {factor}")
    blocks = depth.reshape(n, h // factor, factor, w // factor, factor)
    valid = (blocks > 0).sum((2, 4))
    total = np.where(blocks > 0, blocks, 0).sum((2, 4))
    return np.where(valid > 0, total / np.maximum(valid, 1), 0).astype(np.float32)


def motion_blur(rgb: np.ndarray, length: float, angles: np.ndarray, samples: int = 9) -> np.ndarray:
    """Blur each frame along a straight line of ``length`` pixels at its own angle (radians):
    the mean of ``samples`` bilinear shifts spread evenly over the line (edges clamped), the
    streak a camera turning or shaking during the exposure leaves. ``length`` 0 is a copy."""
    if length < 0:
        raise ValueError(f"blur length must be non-negative, got {length}")
    if length == 0 or len(rgb) == 0:
        return rgb.copy()
    n, h, w, _ = rgb.shape
    image = rgb.astype(np.float32)
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                         indexing="ij")
    frame = np.arange(n)[:, None, None]
    out = np.zeros_like(image)
    for offset in np.linspace(-length / 2, length / 2, samples, dtype=np.float32):
        x = np.clip(xs[None] + offset * np.cos(angles)[:, None, None], 0, w - 1)
        y = np.clip(ys[None] + offset * np.sin(angles)[:, None, None], 0, h - 1)
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = (x - x0)[..., None], (y - y0)[..., None]
        top = image[frame, y0, x0] * (1 - fx) + image[frame, y0, x1] * fx
        bottom = image[frame, y1, x0] * (1 - fx) + image[frame, y1, x1] * fx
        out += top * (1 - fy) + bottom * fy
    return np.clip(out / samples + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- folder reader
_LAYOUT_FIX = ("put each RGB image in <root>/rgb/<name>.png and its 16-bit depth PNG in "
               "<root>/depth/<name>.png")


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    if not root.is_dir():
        raise DataValidationError(root, "RGB-D folder not found",
                                  fix="point the catalog entry's path at the folder")
    for sub in ("rgb", "depth"):
        if not (root / sub).is_dir():
            raise DataValidationError(root / sub, f"the '{sub}' subfolder is missing",
                                      fix=_LAYOUT_FIX)
    rgb = {p.stem: p for p in (root / "rgb").glob("*.png")}
    depth = {p.stem: p for p in (root / "depth").glob("*.png")}
    if not rgb:
        raise DataValidationError(root / "rgb", "no PNG images found", fix=_LAYOUT_FIX)
    for missing, have, side in ((sorted(set(rgb) - set(depth)), rgb, "depth"),
                                (sorted(set(depth) - set(rgb)), depth, "rgb")):
        if missing:
            raise DataValidationError(have[missing[0]], f"no matching {side} image "
                                      f"({len(missing)} unpaired, e.g. {missing[0]}.png)",
                                      fix=f"add {root / side / missing[0]}.png or remove "
                                          "the unpaired file")
    return [(rgb[name], depth[name]) for name in sorted(rgb)]


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise DataValidationError(path, f"not a readable PNG image ({error})",
                                  fix="replace the file with a valid PNG") from None
    return image


def _read_rgb(path: Path, size: tuple[int, int]):
    from PIL import Image

    image = _open(path)
    if image.mode not in ("RGB", "RGBA"):
        raise DataValidationError(path, f"RGB image has mode {image.mode}", field="mode",
                                  fix="save colour images as 8-bit RGB PNG")
    image = image.convert("RGB")
    return image.size, np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


def _read_depth(path: Path, size: tuple[int, int], scale: float) -> tuple[tuple, np.ndarray]:
    from PIL import Image

    image = _open(path)
    if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise DataValidationError(path, f"depth image has mode {image.mode}, not 16-bit",
                                  field="mode", fix="save depth as a 16-bit single-channel PNG "
                                  "(value x depth_scale = metres, 0 = no data)")
    values = np.asarray(image, dtype=np.int64)
    if image.mode == "I" and (values.min() < 0 or values.max() > 65535):
        raise DataValidationError(path, "depth values outside 0..65535", field="value",
                                  fix="save depth as a 16-bit single-channel PNG")
    resized = Image.fromarray(values.astype(np.int32)).resize(size, Image.Resampling.NEAREST)
    return image.size, np.asarray(resized, np.float32) * np.float32(scale)


def read_rgbd_folder(root: str | Path, *, rgb_size: tuple[int, int],
                     depth_size: tuple[int, int], depth_scale: float = 0.001,
                     max_depth: float | None = None) -> Frames:
    """Read every ``rgb/<name>.png`` + ``depth/<name>.png`` pair under ``root``, sorted by name.

    RGB is resized (bilinear) to ``rgb_size`` = (width, height), depth (nearest, so missing
    measurements stay 0) to ``depth_size``; depth is in metres (value x ``depth_scale``) and
    capped at ``max_depth``. Raises :class:`DataValidationError` naming the file and the fix.
    """
    root = Path(root)
    rgbs, depths = [], []
    for rgb_path, depth_path in _pairs(root):
        rgb_shape, rgb = _read_rgb(rgb_path, (int(rgb_size[0]), int(rgb_size[1])))
        depth_shape, depth = _read_depth(depth_path, (int(depth_size[0]), int(depth_size[1])), depth_scale)
        if rgb_shape[0] * depth_shape[1] != rgb_shape[1] * depth_shape[0]:
            raise DataValidationError(depth_path, f"depth is {depth_shape[0]}x{depth_shape[1]} "
                                      f"but its RGB image is {rgb_shape[0]}x{rgb_shape[1]} "
                                      "(different aspect ratios)", field="size",
                                      fix="register depth to the RGB camera at the same aspect")
        if not (depth > 0).any():
            raise DataValidationError(depth_path, "depth image has no valid (non-zero) pixel",
                                      fix="remove the frame or fix its depth")
        rgbs.append(rgb)
        depths.append(depth if max_depth is None else np.minimum(depth, max_depth))
    return Frames(np.stack(rgbs), np.stack(depths))


def write_rgbd_folder(frames: Frames, root: str | Path, depth_scale: float = 0.001) -> Path:
    """Write frames in the layout :func:`read_rgbd_folder` reads (names 000000.png, ...)."""
    from PIL import Image

    root = Path(root)
    (root / "rgb").mkdir(parents=True, exist_ok=True)
    (root / "depth").mkdir(parents=True, exist_ok=True)
    for i, (rgb, depth) in enumerate(zip(frames.rgb, frames.depth, strict=True)):
        Image.fromarray(rgb).save(root / "rgb" / f"{i:06d}.png")
        units = np.clip(np.round(depth / depth_scale), 0, 65535).astype(np.uint16)
        Image.fromarray(units).save(root / "depth" / f"{i:06d}.png")
    return root


@dataclass(frozen=True)
class RgbdFolder:
    """A lazily read RGB-D folder (what the catalog hands the graph); :meth:`read` loads it."""

    path: str
    depth_scale: float = 0.001

    def read(self, rgb_size, depth_size, max_depth: float | None = None) -> Frames:
        """Load the frames, resized to rgb_size / depth_size, depth in metres."""
        return read_rgbd_folder(self.path, rgb_size=tuple(rgb_size), depth_size=tuple(depth_size),
                                depth_scale=self.depth_scale, max_depth=max_depth)


__all__ = ["Frames", "RgbdFolder", "downsample_depth", "motion_blur", "read_rgbd_folder",
           "write_rgbd_folder"]
