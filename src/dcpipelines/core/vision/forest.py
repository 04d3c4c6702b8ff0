"""A procedural forest floor seen from a small rover, rendered by ray casting with exact depth.

The camera is a pinhole a few decimetres above a (possibly sloped) ground plane covered with leaf
litter and moss. The scene holds vertical tree trunks (cylinders with bark), fallen logs
(horizontal finite cylinders lying on the ground), undergrowth and stones (spheres sunk into
the ground), and a sky/canopy behind everything; the light (sun direction, ambient level,
exposure, tint) and the fog vary per frame. Every pixel's depth is the z-distance along the
optical axis to the first surface its ray meets (capped at the far plane), so the depth map
is exact for the rendered geometry.

Everything is vectorised over frames, pixels and objects with numpy (float32); the same seed
gives the same frames. Scenes are sampled from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

F32 = np.float32


@dataclass(frozen=True)
class WorldConfig:
    """Camera, object counts and the ranges every random scene property is drawn from."""

    width: int = 64
    height: int = 48
    fov_deg: float = 70.0  # horizontal field of view (RealSense D435 colour camera: 69 deg)
    max_depth: float = 10.0  # far plane (m); sky and distant forest are capped here
    camera_height: tuple[float, float] = (0.18, 0.22)  # m; a rover's fixed mount, suspension
    pitch_deg: tuple[float, float] = (-8.0, 2.0)  # negative looks down
    roll_deg: tuple[float, float] = (-4.0, 4.0)
    slope: tuple[float, float] = (-0.15, 0.15)  # ground gradient dy/dx and dy/dz
    trunks: tuple[int, int] = (3, 10)
    trunk_radius: tuple[float, float] = (0.05, 0.35)
    logs: tuple[int, int] = (0, 2)
    log_radius: tuple[float, float] = (0.06, 0.2)
    log_length: tuple[float, float] = (1.0, 4.0)
    clutter: tuple[int, int] = (3, 12)
    clutter_radius: tuple[float, float] = (0.04, 0.3)
    fog_density: tuple[float, float] = (0.0, 0.12)  # per metre
    exposure: tuple[float, float] = (0.6, 1.25)

    @classmethod
    def from_dict(cls, values: dict | None) -> WorldConfig:
        """A config from a parameters mapping (lists become tuples); unknown keys are errors."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown world settings {unknown}; known: {sorted(known)}")
        converted: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                     for k, v in values.items()}
        return cls(**converted)

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return self.width / 2 / np.tan(np.deg2rad(self.fov_deg) / 2)


@dataclass(frozen=True)
class Scenes:
    """N scenes as arrays (leading axis N); inactive objects have ``*_on`` False."""

    camera_height: np.ndarray  # (N,)
    pitch: np.ndarray  # (N,) radians
    roll: np.ndarray  # (N,) radians
    slope: np.ndarray  # (N, 2): dy/dx, dy/dz
    trunk: np.ndarray  # (N, T, 3): x, z, radius
    trunk_on: np.ndarray  # (N, T) bool
    log: np.ndarray  # (N, L, 5): x, z, radius, length, angle
    log_on: np.ndarray  # (N, L)
    clutter: np.ndarray  # (N, C, 4): x, z, radius, sink fraction
    clutter_on: np.ndarray  # (N, C)
    light: np.ndarray  # (N, 8): sun x, y, z, ambient, exposure, tint r, tint b, fog density
    palette: np.ndarray  # (N, 4): texture offsets x, z, moss share, bark hue

    def __len__(self) -> int:
        return len(self.camera_height)

    def take(self, index: slice | np.ndarray) -> Scenes:
        """The items at index as a new object of the same kind."""
        return Scenes(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], size) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size).astype(F32)


def _counts(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    """(n, max) activity mask with a uniform count in [low, high] per scene."""
    count = rng.integers(bounds[0], bounds[1] + 1, n)
    return np.arange(max(bounds[1], 1))[None, :] < count[:, None]


def sample_scenes(rng: np.random.Generator, n: int, config: WorldConfig) -> Scenes:
    """Draw ``n`` random forest-floor scenes."""
    c = config
    tmax, lmax, cmax = max(c.trunks[1], 1), max(c.logs[1], 1), max(c.clutter[1], 1)
    # trunks spread over a wide wedge in front of the camera; none within reach of the lens
    trunk_z = _uniform(rng, (0.8, 0.9 * c.max_depth), (n, tmax))
    trunk_x = trunk_z * _uniform(rng, (-1.1, 1.1), (n, tmax))
    trunk = np.stack([trunk_x, trunk_z, _uniform(rng, c.trunk_radius, (n, tmax))], axis=-1)
    log_z = _uniform(rng, (1.0, 0.6 * c.max_depth), (n, lmax))
    log = np.stack([log_z * _uniform(rng, (-0.8, 0.8), (n, lmax)), log_z,
                    _uniform(rng, c.log_radius, (n, lmax)), _uniform(rng, c.log_length, (n, lmax)),
                    _uniform(rng, (0.0, np.pi), (n, lmax))], axis=-1)
    clutter_z = _uniform(rng, (0.5, 0.5 * c.max_depth), (n, cmax))
    clutter = np.stack([clutter_z * _uniform(rng, (-0.9, 0.9), (n, cmax)), clutter_z,
                        _uniform(rng, c.clutter_radius, (n, cmax)),
                        _uniform(rng, (0.2, 0.6), (n, cmax))], axis=-1)
    sun = rng.normal(size=(n, 3)).astype(F32)
    sun[:, 1] = np.abs(sun[:, 1]) + 0.6
    sun /= np.linalg.norm(sun, axis=1, keepdims=True)
    light = np.concatenate([sun, _uniform(rng, (0.3, 0.6), (n, 1)),
                            _uniform(rng, c.exposure, (n, 1)), _uniform(rng, (0.9, 1.1), (n, 2)),
                            _uniform(rng, c.fog_density, (n, 1))], axis=1)
    palette = np.concatenate([_uniform(rng, (0, 1000), (n, 2)), _uniform(rng, (0.1, 0.7), (n, 1)),
                              _uniform(rng, (0.0, 1.0), (n, 1))], axis=1)
    return Scenes(
        camera_height=_uniform(rng, c.camera_height, n),
        pitch=np.deg2rad(_uniform(rng, c.pitch_deg, n)).astype(F32),
        roll=np.deg2rad(_uniform(rng, c.roll_deg, n)).astype(F32),
        slope=_uniform(rng, c.slope, (n, 2)),
        trunk=trunk, trunk_on=_counts(rng, c.trunks, n), log=log, log_on=_counts(rng, c.logs, n),
        clutter=clutter, clutter_on=_counts(rng, c.clutter, n), light=light, palette=palette,
    )


def empty_scenes(n: int, camera_height: float, pitch: float = 0.0, slope=(0.0, 0.0)) -> Scenes:
    """Scenes with only the ground plane (for checks against analytic depth)."""
    light = np.tile(np.array([0, 1, 0, 0.5, 1, 1, 1, 0], F32), (n, 1))
    return Scenes(
        camera_height=np.full(n, camera_height, F32), pitch=np.full(n, pitch, F32),
        roll=np.zeros(n, F32), slope=np.tile(np.asarray(slope, F32), (n, 1)),
        trunk=np.zeros((n, 1, 3), F32), trunk_on=np.zeros((n, 1), bool),
        log=np.zeros((n, 1, 5), F32), log_on=np.zeros((n, 1), bool),
        clutter=np.zeros((n, 1, 4), F32), clutter_on=np.zeros((n, 1), bool),
        light=light, palette=np.zeros((n, 4), F32),
    )


# ------------------------------------------------------------------------------ texture noise
def _hash(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic integer hash of lattice points, in [0, 1)."""
    h = ix.astype(np.int32).view(np.uint32) * np.uint32(374761393)
    h += iy.astype(np.int32).view(np.uint32) * np.uint32(668265263)
    h += np.uint32(salt * 2654435761 % 2**32)
    h = (h ^ (h >> np.uint32(13))) * np.uint32(1274126177)
    h = h ^ (h >> np.uint32(16))
    return (h >> np.uint32(8)).astype(F32) * F32(1 / 16777216)


def value_noise(x: np.ndarray, y: np.ndarray, salt: int = 0) -> np.ndarray:
    """Smooth lattice value noise in [0, 1] at real coordinates (any matching shapes)."""
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a, b = _hash(x0, y0, salt), _hash(x0 + 1, y0, salt)
    c, d = _hash(x0, y0 + 1, salt), _hash(x0 + 1, y0 + 1, salt)
    return (a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy).astype(F32)


def _fractal(x: np.ndarray, y: np.ndarray, salt: int, octaves: int = 2) -> np.ndarray:
    total: np.ndarray | float = 0.0
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total = total + amplitude * value_noise(x * 2**octave, y * 2**octave, salt + octave)
        norm += amplitude
        amplitude *= 0.5
    return np.asarray(total / norm, dtype=F32)


# ------------------------------------------------------------------------------- ray casting
def camera_rays(scenes: Scenes, config: WorldConfig) -> np.ndarray:
    """World-space ray directions (N, P, 3) whose camera-z component is 1 (so t is z-depth)."""
    h, w, f = config.height, config.width, config.focal
    v, u = np.meshgrid(np.arange(h, dtype=F32) + 0.5, np.arange(w, dtype=F32) + 0.5, indexing="ij")
    xc, yc = ((u - w / 2) / f).ravel(), (-(v - h / 2) / f).ravel()
    cr, sr = np.cos(scenes.roll)[:, None], np.sin(scenes.roll)[:, None]
    xr, yr = cr * xc - sr * yc, sr * xc + cr * yc  # roll about the optical axis
    cp, sp = np.cos(scenes.pitch)[:, None], np.sin(scenes.pitch)[:, None]
    return np.stack([xr, yr * cp + sp, -yr * sp + cp], axis=-1).astype(F32)


def _ground_height(scenes: Scenes, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    return scenes.slope[:, 0:1] * x + scenes.slope[:, 1:2] * z


def _hit_ground(scenes: Scenes, d: np.ndarray) -> np.ndarray:
    """t of the ray with the plane y = sx x + sz z (inf where it points away)."""
    sx, sz = scenes.slope[:, 0:1], scenes.slope[:, 1:2]
    denom = d[..., 1] - sx * d[..., 0] - sz * d[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -scenes.camera_height[:, None] / denom
    return np.where((denom < 0) & np.isfinite(t), t, np.inf).astype(F32)


def _smallest_root(a, half_b, c) -> np.ndarray:
    """Nearest positive root of a t^2 + 2 half_b t + c (inf if none); the ray starts outside."""
    disc = half_b * half_b
    disc -= a * c
    miss = disc < 0
    np.maximum(disc, 0, out=disc)
    t = np.sqrt(disc, out=disc)
    t += half_b
    t /= -a
    t[miss | (t <= 1e-4)] = np.inf
    return t


def _hit_trunks(scenes: Scenes, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest t over vertical cylinders and the index of the trunk hit: (N, P) each."""
    dx, dz = d[..., 0][..., None], d[..., 2][..., None]
    ox, oz = -scenes.trunk[:, None, :, 0], -scenes.trunk[:, None, :, 1]
    r = scenes.trunk[:, None, :, 2]
    t = _smallest_root(dx * dx + dz * dz, dx * ox + dz * oz, ox * ox + oz * oz - r * r)
    t = np.where(scenes.trunk_on[:, None, :], t, np.inf)
    return t.min(-1), t.argmin(-1)


def _hit_logs(scenes: Scenes, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest t over finite horizontal cylinders lying on the ground."""
    x, z, r, length, angle = (scenes.log[:, None, :, i] for i in range(5))
    cx, cz = x, z
    cy = scenes.slope[:, 0:1, None] * cx + scenes.slope[:, 1:2, None] * cz + r
    ax, az = np.cos(angle), np.sin(angle)
    wx, wy, wz = -cx, scenes.camera_height[:, None, None] - cy, -cz  # origin - centre
    dx, dy, dz = (d[..., i][..., None] for i in range(3))
    da, wa = dx * ax + dz * az, wx * ax + wz * az
    px, py, pz = dx - da * ax, dy, dz - da * az  # components perpendicular to the axis
    qx, qy, qz = wx - wa * ax, wy, wz - wa * az
    t = _smallest_root(px * px + py * py + pz * pz, px * qx + py * qy + pz * qz,
                       qx * qx + qy * qy + qz * qz - r * r)
    with np.errstate(invalid="ignore"):  # misses (t = inf) along the axis give nan: dropped
        along = wa + t * da
    t = np.where((np.abs(along) <= length / 2) & scenes.log_on[:, None, :], t, np.inf)
    return t.min(-1), t.argmin(-1)


def _hit_clutter(scenes: Scenes, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest t over spheres sunk part-way into the ground (bushes and stones)."""
    x, z, r, sink = (scenes.clutter[:, None, :, i] for i in range(4))
    cy = scenes.slope[:, 0:1, None] * x + scenes.slope[:, 1:2, None] * z + r * (1 - 2 * sink)
    wx, wy, wz = -x, scenes.camera_height[:, None, None] - cy, -z
    dx, dy, dz = (d[..., i][..., None] for i in range(3))
    t = _smallest_root(dx * dx + dy * dy + dz * dz, dx * wx + dy * wy + dz * wz,
                       wx * wx + wy * wy + wz * wz - r * r)
    t = np.where(scenes.clutter_on[:, None, :], t, np.inf)
    return t.min(-1), t.argmin(-1)


# --------------------------------------------------------------------------------- shading
# Each material gets the frames (M,), world points (M, 3) and object indices (M,) of the pixels
# it covers, and returns their albedo and surface normal (M, 3) each.
def _ground_surface(scenes: Scenes, f: np.ndarray, p: np.ndarray, _: np.ndarray):
    ox, oz, moss_share = scenes.palette[f, 0], scenes.palette[f, 1], scenes.palette[f, 2]
    litter = _fractal(p[:, 0] * 6 + ox, p[:, 2] * 6 + oz, 11)
    moss = (value_noise(p[:, 0] * 0.8 + oz, p[:, 2] * 0.8 + ox, 17) < moss_share)[:, None]
    soil = np.stack([0.32 + 0.25 * litter, 0.22 + 0.15 * litter, 0.12 + 0.06 * litter], -1)
    green = np.stack([0.12 + 0.1 * litter, 0.3 + 0.2 * litter, 0.08 + 0.05 * litter], -1)
    sx, sz = scenes.slope[f, 0], scenes.slope[f, 1]
    normal = np.stack([-sx, np.ones_like(sx), -sz], -1)
    return np.where(moss, green, soil), normal / np.linalg.norm(normal, axis=-1, keepdims=True)


def _trunk_surface(scenes: Scenes, f: np.ndarray, p: np.ndarray, idx: np.ndarray):
    trunk = scenes.trunk[f, idx]
    nx, nz = (p[:, 0] - trunk[:, 0]) / trunk[:, 2], (p[:, 2] - trunk[:, 1]) / trunk[:, 2]
    bark = _fractal(np.arctan2(nz, nx) * 4 + scenes.palette[f, 0], p[:, 1] * 1.5, 23)
    hue = scenes.palette[f, 3]
    albedo = np.stack([0.22 + 0.18 * bark + 0.05 * hue, 0.16 + 0.12 * bark, 0.1 + 0.08 * bark], -1)
    return albedo, np.stack([nx, np.zeros_like(nx), nz], -1)


def _log_surface(scenes: Scenes, f: np.ndarray, p: np.ndarray, idx: np.ndarray):
    log = scenes.log[f, idx]
    ax, az = np.cos(log[:, 4]), np.sin(log[:, 4])
    along = (p[:, 0] - log[:, 0]) * ax + (p[:, 2] - log[:, 1]) * az
    centre_y = scenes.slope[f, 0] * log[:, 0] + scenes.slope[f, 1] * log[:, 1] + log[:, 2]
    normal = np.stack([p[:, 0] - log[:, 0] - along * ax, p[:, 1] - centre_y,
                       p[:, 2] - log[:, 1] - along * az], -1) / log[:, 2:3]
    grain = _fractal(along * 3 + scenes.palette[f, 0], normal[:, 1] * 4, 31)
    return np.stack([0.35 + 0.2 * grain, 0.3 + 0.15 * grain, 0.2 + 0.1 * grain], -1), normal


def _clutter_surface(scenes: Scenes, f: np.ndarray, p: np.ndarray, idx: np.ndarray):
    blob = scenes.clutter[f, idx]
    ground = scenes.slope[f, 0] * blob[:, 0] + scenes.slope[f, 1] * blob[:, 1]
    centre_y = ground + blob[:, 2] * (1 - 2 * blob[:, 3])
    normal = np.stack([p[:, 0] - blob[:, 0], p[:, 1] - centre_y, p[:, 2] - blob[:, 1]], -1)
    normal /= blob[:, 2:3]
    speck = _fractal(normal[:, 0] * 5 + normal[:, 2] * 3 + scenes.palette[f, 0],
                     normal[:, 1] * 5, 41)
    bush = np.stack([0.1 + 0.15 * speck, 0.25 + 0.3 * speck, 0.06 + 0.08 * speck], -1)
    rock = np.repeat((0.3 + 0.25 * speck)[:, None], 3, -1)
    return np.where((blob[:, 3] > 0.45)[:, None], rock, bush), normal


_MATERIALS = {1: ("ground", _ground_surface), 2: ("trunk", _trunk_surface),
              3: ("log", _log_surface), 4: ("clutter", _clutter_surface)}


def _shade(scenes: Scenes, d: np.ndarray, hits: dict, kind: np.ndarray, t: np.ndarray,
           config: WorldConfig) -> np.ndarray:
    """Linear RGB (N, P, 3) of the surface each ray meets, lit and fogged; sky where none."""
    n_frames = len(scenes)
    depth = np.minimum(t, config.max_depth)
    frame = np.broadcast_to(np.arange(n_frames)[:, None], kind.shape)
    sun, ambient = scenes.light[:, 0:3], scenes.light[:, 3]
    canopy = _fractal(d[..., 0] * 4 + scenes.palette[:, 0:1], d[..., 1] * 4, 53)
    colour = np.where((canopy > 0.55)[..., None], np.array([0.08, 0.18, 0.06], F32),
                      np.array([0.75, 0.82, 0.9], F32))
    for code, (name, surface) in _MATERIALS.items():
        sel = kind == code
        if not sel.any():
            continue
        f = frame[sel]
        p = d[sel] * depth[sel][:, None]
        p[:, 1] += scenes.camera_height[f]
        albedo, normal = surface(scenes, f, p, hits[name][1][sel])
        lambert = np.clip((normal * sun[f]).sum(-1), 0, None)
        colour[sel] = albedo * (ambient[f] + (1 - ambient[f]) * 1.4 * lambert)[:, None]
    fog = 1 - np.exp(-scenes.light[:, None, 7:8] * depth[..., None])
    colour = colour * (1 - fog) + np.array([0.6, 0.65, 0.62], F32) * fog
    tint = np.stack([scenes.light[:, 5], np.ones(n_frames, F32), scenes.light[:, 6]], -1)
    return colour * scenes.light[:, None, 4:5] * tint[:, None, :]


def render(scenes: Scenes, config: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 (N, H, W, 3) and exact z-depth float32 (N, H, W) in metres, capped at the far
    plane (rays that meet nothing get the far plane)."""
    d = camera_rays(scenes, config)
    ground = _hit_ground(scenes, d)
    hits = {"ground": (ground, np.zeros(ground.shape, np.int64)), "trunk": _hit_trunks(scenes, d),
            "log": _hit_logs(scenes, d), "clutter": _hit_clutter(scenes, d)}
    stacked = np.stack([hits[k][0] for k in ("ground", "trunk", "log", "clutter")], -1)
    t = stacked.min(-1)
    kind = np.where(t < config.max_depth, stacked.argmin(-1) + 1, 0)
    colour = _shade(scenes, d, hits, kind, t, config)
    shape = (len(scenes), config.height, config.width)
    rgb = np.clip(colour ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8).reshape(*shape, 3)
    depth = np.minimum(t, config.max_depth).astype(F32).reshape(shape)
    return rgb, depth


def render_frames(n: int, seed: int, config: WorldConfig, chunk: int = 64
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random frames for ``seed``: RGB uint8 (n, H, W, 3), depth float32 (n, H, W)."""
    scenes = sample_scenes(np.random.default_rng(seed), n, config)
    parts = [render(scenes.take(slice(i, i + chunk)), config) for i in range(0, n, chunk)]
    if not parts:
        shape = (0, config.height, config.width)
        return np.zeros((*shape, 3), np.uint8), np.zeros(shape, F32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def flat_ground_depth(config: WorldConfig, camera_height: float) -> np.ndarray:
    """Analytic depth per image row for a level camera over flat empty ground: h f / (v - cy)
    below the horizon, the far plane above it."""
    v = np.arange(config.height) + 0.5 - config.height / 2
    with np.errstate(divide="ignore"):
        depth = np.where(v > 0, camera_height * config.focal / np.where(v > 0, v, 1), np.inf)
    return np.minimum(depth, config.max_depth)


__all__ = ["Scenes", "WorldConfig", "empty_scenes", "flat_ground_depth", "render",
           "render_frames", "sample_scenes", "value_noise"]
