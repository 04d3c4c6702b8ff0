"""RGB-D frames: the PNG folder reader (round trip and bad input), motion blur, downsampling."""

import numpy as np
import pytest
from PIL import Image

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.vision.rgbd import (
    Frames,
    downsample_depth,
    motion_blur,
    read_rgbd_folder,
    write_rgbd_folder,
)

SIZES = {"rgb_size": (16, 12), "depth_size": (8, 6)}


def _frames(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return Frames(rng.integers(0, 256, (n, 12, 16, 3), dtype=np.uint8),
                  rng.uniform(0.3, 9.0, (n, 6, 8)).astype(np.float32))


def test_round_trip_through_png_folders(tmp_path):
    frames = _frames()
    write_rgbd_folder(frames, tmp_path)
    back = read_rgbd_folder(tmp_path, **SIZES)
    np.testing.assert_array_equal(back.rgb, frames.rgb)
    np.testing.assert_allclose(back.depth, frames.depth, atol=0.0005 + 1e-6)  # millimetres
    capped = read_rgbd_folder(tmp_path, **SIZES, max_depth=5.0)
    assert capped.depth.max() == pytest.approx(5.0)


def test_resizes_rgb_and_depth_to_the_network_sizes(tmp_path):
    write_rgbd_folder(_frames(), tmp_path)
    back = read_rgbd_folder(tmp_path, rgb_size=(8, 6), depth_size=(4, 3))
    assert back.rgb.shape == (3, 6, 8, 3) and back.depth.shape == (3, 3, 4)


@pytest.mark.parametrize("breakage, message", [
    ("no_root", "RGB-D folder not found"),
    ("no_depth_dir", "'depth' subfolder is missing"),
    ("unpaired", "no matching depth image"),
    ("eight_bit_depth", "not 16-bit"),
    ("grey_rgb", "RGB image has mode L"),
    ("corrupt", "not a readable PNG"),
    ("aspect", "different aspect ratios"),
    ("empty_depth", r"no valid \(non-zero\) pixel"),
    ("no_images", "no PNG images"),
])
def test_bad_folders_name_the_file_and_the_fix(tmp_path, breakage, message):
    root = tmp_path / "set"
    write_rgbd_folder(_frames(2), root)
    depth0, rgb0 = root / "depth" / "000000.png", root / "rgb" / "000000.png"
    if breakage == "no_root":
        root = tmp_path / "elsewhere"
    elif breakage == "no_depth_dir":
        for f in (root / "depth").iterdir():
            f.unlink()
        (root / "depth").rmdir()
    elif breakage == "unpaired":
        depth0.unlink()
    elif breakage == "eight_bit_depth":
        Image.fromarray(np.full((6, 8), 9, np.uint8)).save(depth0)
    elif breakage == "grey_rgb":
        Image.fromarray(np.zeros((12, 16), np.uint8)).save(rgb0)
    elif breakage == "corrupt":
        depth0.write_bytes(b"not a png at all")
    elif breakage == "aspect":
        Image.fromarray(np.full((6, 6), 900, np.uint16)).save(depth0)
    elif breakage == "empty_depth":
        Image.fromarray(np.zeros((6, 8), np.uint16)).save(depth0)
    elif breakage == "no_images":
        for sub in ("rgb", "depth"):
            for f in (root / sub).iterdir():
                f.unlink()
    with pytest.raises(DataValidationError, match=message) as error:
        read_rgbd_folder(root, **SIZES)
    assert "Fix:" in str(error.value)
    assert str(root) in str(error.value)


def test_motion_blur_spreads_along_its_direction_only():
    image = np.zeros((1, 9, 9, 3), np.uint8)
    image[0, 4, 4] = 255  # a bright dot
    horizontal = motion_blur(image, 4.0, np.array([0.0]))[0, ..., 0]
    assert horizontal[4].sum() > 0 and (horizontal[4, 2:7] > 0).all()
    assert horizontal[3].sum() == 0 and horizontal[5].sum() == 0
    vertical = motion_blur(image, 4.0, np.array([np.pi / 2]))[0, ..., 0]
    assert (vertical[2:7, 4] > 0).all() and vertical[4, 3] == 0
    np.testing.assert_array_equal(motion_blur(image, 0.0, np.array([0.3])), image)
    flat = np.full((2, 5, 5, 3), 77, np.uint8)
    np.testing.assert_array_equal(motion_blur(flat, 3.0, np.array([0.2, 1.0])), flat)
    with pytest.raises(ValueError):
        motion_blur(image, -1.0, np.array([0.0]))


def test_downsampling_averages_valid_depth_only():
    depth = np.array([[[1.0, 3.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(downsample_depth(depth, 2), [[[2.0, 0.0]]])
