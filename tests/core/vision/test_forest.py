"""The procedural forest renderer: exact depth for known scenes, and one world per seed."""

import numpy as np
import pytest

from dcpipelines.core.vision.forest import (
    WorldConfig,
    empty_scenes,
    flat_ground_depth,
    render,
    render_frames,
    value_noise,
)

CONFIG = WorldConfig(width=32, height=24, max_depth=10.0)


def test_flat_ground_gives_the_analytic_depth_per_row():
    _, depth = render(empty_scenes(1, camera_height=0.2), CONFIG)
    expected = flat_ground_depth(CONFIG, 0.2)
    # every pixel of a row has the same z-depth h f / (v - cy) below the horizon, far plane above
    np.testing.assert_allclose(depth[0], np.repeat(expected[:, None], CONFIG.width, 1), rtol=1e-5)
    assert depth[0, : CONFIG.height // 2].min() == CONFIG.max_depth
    assert depth[0, -1, 0] == pytest.approx(0.2 * CONFIG.focal / (CONFIG.height / 2 - 0.5))


def test_pitched_camera_over_flat_ground_matches_the_ray_plane_intersection():
    pitch, height = np.deg2rad(-10.0), 0.25
    _, depth = render(empty_scenes(1, camera_height=height, pitch=pitch), CONFIG)
    v = np.arange(CONFIG.height) + 0.5 - CONFIG.height / 2
    down = v / CONFIG.focal * np.cos(pitch) - np.sin(pitch)  # -(world y) of the ray, z_cam = 1
    expected = np.where(down > 0, height / np.where(down > 0, down, 1), np.inf)
    np.testing.assert_allclose(depth[0, :, 5], np.minimum(expected, CONFIG.max_depth), rtol=1e-5)


def test_a_trunk_straight_ahead_is_at_its_distance_minus_the_radius():
    scenes = empty_scenes(1, camera_height=0.2)
    scenes.trunk[0, 0] = [0.0, 3.0, 0.3]
    scenes.trunk_on[0, 0] = True
    _, depth = render(scenes, CONFIG)
    x = 0.5 / CONFIG.focal  # the two centre columns look 0.5 px off the axis
    a, b, c = x * x + 1, -2 * 3.0, 3.0**2 - 0.3**2
    expected = (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert depth[0, 0, CONFIG.width // 2] == pytest.approx(expected, rel=1e-5)  # above horizon
    assert depth[0, 0, 0] == CONFIG.max_depth  # the sky at the edges


def test_sloped_ground_rises_ahead_so_rows_get_closer():
    _, flat = render(empty_scenes(1, 0.2), CONFIG)
    _, uphill = render(empty_scenes(1, 0.2, slope=(0.0, 0.1)), CONFIG)
    below = slice(CONFIG.height // 2 + 1, None)
    assert (uphill[0, below] < flat[0, below]).all()


def test_same_seed_same_frames_other_seed_other_frames():
    rgb_a, depth_a = render_frames(12, 5, CONFIG, chunk=5)
    rgb_b, depth_b = render_frames(12, 5, CONFIG, chunk=12)
    np.testing.assert_array_equal(rgb_a, rgb_b)
    np.testing.assert_array_equal(depth_a, depth_b)
    rgb_c, _ = render_frames(12, 6, CONFIG)
    assert not np.array_equal(rgb_a, rgb_c)
    assert rgb_a.shape == (12, 24, 32, 3) and rgb_a.dtype == np.uint8
    assert depth_a.min() > 0 and depth_a.max() <= CONFIG.max_depth
    # real scenes hold objects nearer than the bare ground would be
    assert (depth_a < np.minimum(flat_ground_depth(CONFIG, 0.22)[:, None], 10.0) - 0.05).any()


def test_value_noise_is_smooth_and_in_range():
    x = np.linspace(0, 20, 2001, dtype=np.float32)
    n = value_noise(x, np.zeros_like(x), salt=3)
    assert n.min() >= 0 and n.max() <= 1 and n.std() > 0.05
    assert np.abs(np.diff(n)).max() < 0.05


def test_world_config_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown world settings"):
        WorldConfig.from_dict({"trees": 3})
