"""Vectorised drawing of the planted-failure world: shapes, textures, backgrounds, effects.

Every function works on a whole batch at once: shapes are signed-distance functions evaluated
on per-image coordinate grids, backgrounds are filtered noise fields, blur is one separable
Gaussian filter per blur level. Spatial constants are given for 64-pixel images and scaled
with the image size, so other sizes look alike.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BACKGROUNDS",
    "CLASS_NAMES",
    "COLOURS",
    "PARTS",
    "TEXTURES",
    "render_batch",
    "shape_sdf",
]

CLASS_NAMES = [
    "circle", "hexagon", "square", "diamond", "triangle", "star", "cross", "ring", "arrow", "heart",
]  # fmt: skip
COLOURS = {
    "red": (0.86, 0.12, 0.12),
    "orange": (0.96, 0.55, 0.10),
    "yellow": (0.95, 0.88, 0.16),
    "green": (0.16, 0.72, 0.22),
    "blue": (0.16, 0.32, 0.92),
    "purple": (0.62, 0.22, 0.78),
}
TEXTURES = ["solid", "stripes", "dots", "checker"]
BACKGROUNDS = ["plain", "grass", "water", "sand", "sky"]
# The distinguishing part of a class that the world can leave out (``has_part=False``).
PARTS = {"arrow": "shaft", "ring": "hole"}

_TEXTURE_DARKNESS = 0.32  # the texture's second colour is the object colour times this


# --------------------------------------------------------------------------- shapes
def _box(u, v, half_u, half_v):
    qu = np.abs(u) - half_u
    qv = np.abs(v) - half_v
    outside = np.hypot(np.maximum(qu, 0.0), np.maximum(qv, 0.0))
    return outside + np.minimum(np.maximum(qu, qv), 0.0)


def _polygon(u, v, vertices):
    """Distance-like field of a convex polygon (max of edge half-planes; exact inside)."""
    verts = np.asarray(vertices, dtype=np.float32)
    field = None
    for k in range(len(verts)):
        a, b = verts[k], verts[(k + 1) % len(verts)]
        edge = b - a
        normal = np.array([edge[1], -edge[0]], dtype=np.float32)
        normal /= np.linalg.norm(normal)
        # orient the normal outwards (away from the polygon's centroid)
        centroid = verts.mean(axis=0)
        if normal @ (a - centroid) < 0:
            normal = -normal
        d = (u - a[0]) * normal[0] + (v - a[1]) * normal[1]
        field = d if field is None else np.maximum(field, d)
    return field


def _star(u, v, points=5, outer=0.95, inner=0.38):
    sector = 2 * np.pi / points
    angle = np.mod(np.arctan2(v, u) + np.pi / 2, sector) - sector / 2  # a tip points up
    angle = np.abs(angle)  # folded into [0, sector/2]: 0 at an inner corner, sector/2 at a tip
    rho = np.hypot(u, v)
    pu, pv = rho * np.cos(angle), rho * np.sin(angle)
    # boundary segment from the inner corner (angle 0) to the outer tip (angle sector/2)
    a = np.array([inner, 0.0])
    b = np.array([outer * np.cos(sector / 2), outer * np.sin(sector / 2)])
    edge = b - a
    normal = np.array([edge[1], -edge[0]]) / np.linalg.norm(edge)
    if normal @ a < 0:
        normal = -normal
    return ((pu - a[0]) * normal[0] + (pv - a[1]) * normal[1]).astype(np.float32)


def shape_sdf(class_name: str, u: np.ndarray, v: np.ndarray, has_part=True) -> np.ndarray:
    """Signed distance (object units, negative inside) of a class's shape at coordinates ``u, v``.

    The object spans about ``[-0.95, 0.95]`` in both coordinates. ``has_part`` (bool or array
    broadcastable to ``u``) leaves out the class's distinguishing part where False (see PARTS).
    """
    if class_name == "circle":
        return np.hypot(u, v) - 0.9
    if class_name == "hexagon":
        verts = [(0.93 * np.cos(a), 0.93 * np.sin(a)) for a in np.arange(6) * np.pi / 3]
        return _polygon(u, v, verts)
    if class_name == "diamond":
        return _polygon(u, v, [(0.0, -0.95), (0.78, 0.0), (0.0, 0.95), (-0.78, 0.0)])
    if class_name == "square":
        return _box(u, v, 0.7, 0.7)
    if class_name == "triangle":
        r = 0.95
        # pointing up (v grows downwards in image coordinates)
        verts = [(r * np.cos(a), r * np.sin(a)) for a in -np.pi / 2 + np.arange(3) * 2 * np.pi / 3]
        return _polygon(u, v, verts)
    if class_name == "star":
        return _star(u, v)
    if class_name == "cross":
        return np.minimum(_box(u, v, 0.9, 0.3), _box(u, v, 0.3, 0.9))
    if class_name == "ring":
        rho = np.hypot(u, v)
        whole = np.abs(rho - 0.68) - 0.24
        filled = rho - 0.92
        return np.where(has_part, whole, filled)
    if class_name == "arrow":
        # points along +u; its part is the shaft: without it only the triangular head is left
        head = _polygon(u, v, [(0.95, 0.0), (-0.15, 0.7), (-0.15, -0.7)])
        shaft = _box(u + 0.5, v, 0.45, 0.17)
        return np.where(has_part, np.minimum(shaft, head), head)
    if class_name == "heart":
        lobes = np.minimum(np.hypot(u + 0.4, v + 0.3) - 0.45, np.hypot(u - 0.4, v + 0.3) - 0.45)
        tip = _polygon(u, v, [(-0.8, -0.12), (0.8, -0.12), (0.0, 0.92)])
        return np.minimum(lobes, tip)
    raise ValueError(f"class_name: unknown shape {class_name!r}; known: {CLASS_NAMES}")


def _texture_pattern(texture: str, u: np.ndarray, v: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """Texture coverage in [0, 1] at object coordinates (1 = the darker second colour)."""
    if texture == "solid":
        return np.zeros_like(u)
    freq = 2.2  # periods per object unit
    if texture == "stripes":
        s = np.sin(2 * np.pi * freq * u)
        return np.clip(0.5 + s / (2 * np.pi * freq * pixel), 0.0, 1.0)
    if texture == "checker":
        s = np.sin(np.pi * freq * u) * np.sin(np.pi * freq * v)
        return np.clip(0.5 + s / (np.pi * freq * pixel), 0.0, 1.0)
    if texture == "dots":
        cu = u * freq - np.round(u * freq)
        cv = v * freq - np.round(v * freq)
        d = np.hypot(cu, cv) / freq - 0.13
        return np.clip(0.5 - d / pixel, 0.0, 1.0)
    raise ValueError(f"texture: unknown texture {texture!r}; known: {TEXTURES}")


# --------------------------------------------------------------------------- backgrounds
def _smooth_noise(rng, m, size, sigma_y, sigma_x):
    """``m`` Gaussian-filtered white-noise fields (m, size, size), unit std per field.

    Wide filters run on a field 4x coarser, linearly upsampled (same look, far fewer taps).
    """
    from scipy import ndimage  # lazy: a cached world needs no drawing

    coarse = 4 if min(sigma_y, sigma_x) >= 4 and size % 4 == 0 else 1
    n = size // coarse
    field = rng.standard_normal((m, n, n), dtype=np.float32)
    field = ndimage.gaussian_filter(
        field, sigma=(0, sigma_y / coarse, sigma_x / coarse), mode="wrap", truncate=3.0
    )
    if coarse > 1:
        field = ndimage.zoom(field, (1, coarse, coarse), order=1, mode="grid-wrap", grid_mode=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return field


def _tinted(base, light):
    """Planar (m, 3, H, W) image: colour ``base`` (3,) scaled by ``light`` (m, H, W)."""
    return np.asarray(base, dtype=np.float32)[None, :, None, None] * light[:, None]


def _background(kind: str, m: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` procedural backgrounds of one kind, planar float32 (m, 3, size, size), about [0, 1]."""
    scale = size / 64.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / scale
    if kind == "plain":
        grey = rng.uniform(0.35, 0.75, size=(m, 1, 1, 1)).astype(np.float32)
        tint = rng.uniform(-0.04, 0.04, size=(m, 3, 1, 1)).astype(np.float32)
        return np.broadcast_to(grey + tint, (m, 3, size, size)).copy()
    if kind == "grass":
        blades = _smooth_noise(rng, m, size, 2.5 * scale, 0.6 * scale)
        grain = _smooth_noise(rng, m, size, 0.5 * scale, 0.5 * scale)
        return _tinted((0.30, 0.52, 0.18), 1.0 + 0.22 * blades + 0.06 * grain)
    if kind == "water":
        lam = rng.uniform(6.0, 10.0, size=(m, 1, 1)).astype(np.float32)
        mu = rng.uniform(20.0, 40.0, size=(m, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, size=(m, 2, 1, 1)).astype(np.float32)
        wave = np.sin(
            2 * np.pi * (yy / lam + 0.15 * np.sin(2 * np.pi * xx / mu + phase[:, 0])) + phase[:, 1]
        )
        ripple = _smooth_noise(rng, m, size, 0.7 * scale, 4.0 * scale)
        shade = 0.07 * wave + 0.04 * ripple
        shade += np.clip((wave + 0.3 * ripple - 0.85) * 3.0, 0.0, 1.0) * 0.35  # glints
        base = np.array([0.12, 0.32, 0.62], dtype=np.float32)[None, :, None, None]
        return base + shade[:, None]
    if kind == "sand":
        grain = _smooth_noise(rng, m, size, 0.6 * scale, 0.6 * scale)
        angle = rng.uniform(0, np.pi, size=(m, 1, 1)).astype(np.float32)
        period = rng.uniform(18.0, 30.0, size=(m, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, size=(m, 1, 1)).astype(np.float32)
        dunes = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
        return _tinted((0.86, 0.74, 0.52), 1.0 + 0.05 * grain + 0.05 * dunes)
    if kind == "sky":
        top = np.array([0.40, 0.62, 0.92], dtype=np.float32)[:, None, None]
        bottom = np.array([0.72, 0.84, 0.97], dtype=np.float32)[:, None, None]
        sky = top + (bottom - top) * (yy / yy.max())  # (3, H, W)
        clouds = _smooth_noise(rng, m, size, 5.0 * scale, 7.0 * scale)
        cover = np.clip((clouds - 0.5) * 1.2, 0.0, 1.0)[:, None]  # (m, 1, H, W)
        white = np.float32(0.97)
        return sky + (white - sky) * cover
    raise ValueError(f"background: unknown background {kind!r}; known: {BACKGROUNDS}")


# --------------------------------------------------------------------------- rendering
def _object_coords(size, cx, cy, radius, rotation):
    """Per-image object coordinates (m, size, size): u along the rotated x axis, in radii."""
    pix = np.arange(size, dtype=np.float32) + 0.5
    dx = pix[None, None, :] - cx[:, None, None]
    dy = pix[None, :, None] - cy[:, None, None]
    c = np.cos(rotation)[:, None, None]
    s = np.sin(rotation)[:, None, None]
    r = radius[:, None, None]
    u = (dx * c + dy * s) / r
    v = (-dx * s + dy * c) / r
    return u.astype(np.float32), v.astype(np.float32)


def _paint(canvas, alpha, colour):
    """Alpha-composite ``colour`` over the planar ``canvas`` (m, 3, H, W) in place.

    ``alpha`` is (m, H, W); ``colour`` broadcasts to the canvas.
    """
    delta = colour - canvas
    delta *= alpha[:, None]
    canvas += delta


def _sensor_noise(rng, shape, std):
    """Zero-mean pixel noise with per-image ``std``: the sum of two uniform bytes (a triangular
    distribution, close to Gaussian and several times cheaper to draw)."""
    a = rng.integers(-128, 128, size=shape, dtype=np.int8)
    b = rng.integers(-128, 128, size=shape, dtype=np.int8)
    noise = a.astype(np.float32)
    noise += b
    noise *= (std / 104.5).astype(np.float32)[:, None, None, None]  # 104.5: std of a + b
    return noise


def render_batch(params: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """Render a batch of images from per-image parameters.

    Parameters
    ----------
    params : dict of equal-length arrays: ``class_name``, ``colour``, ``texture``,
        ``background`` (str); ``cx``, ``cy``, ``radius`` (pixels), ``rotation`` (radians),
        ``brightness``, ``blur`` (Gaussian sigma in pixels), ``noise`` (std on the [0, 1]
        scale), ``occluder``, ``distractor``, ``has_part`` (bool), and the helper geometry
        ``occ_cx``, ``occ_cy``, ``occ_w``, ``occ_h``, ``occ_grey``, ``dis_cx``, ``dis_cy``,
        ``dis_r``, ``dis_colour``.
    size : image side in pixels.
    rng : generator for the pixel-level randomness (background noise, sensor noise).

    Returns
    -------
    uint8 array (m, size, size, 3).
    """
    m = len(params["class_name"])
    canvas = np.empty((m, 3, size, size), dtype=np.float32)  # planar while drawing
    for kind in BACKGROUNDS:
        idx = np.flatnonzero(params["background"] == kind)
        if idx.size:
            canvas[idx] = _background(kind, idx.size, size, rng)

    pix = np.arange(size, dtype=np.float32) + 0.5

    # distractor: a small pebble (ellipse) in a palette colour, drawn behind the object
    idx = np.flatnonzero(params["distractor"])
    if idx.size:
        r = params["dis_r"][idx, None, None]
        dx = (pix[None, None, :] - params["dis_cx"][idx, None, None]) / r
        dy = (pix[None, :, None] - params["dis_cy"][idx, None, None]) / r
        alpha = np.clip(0.5 - (np.hypot(dx, 1.4 * dy) - 1.0) * r, 0.0, 1.0)
        colours = 0.8 * np.array([COLOURS[c] for c in params["dis_colour"][idx]], np.float32)
        sub = canvas[idx]
        _paint(sub, alpha, colours[:, :, None, None])
        canvas[idx] = sub

    # the object: shape mask per class, texture per texture kind
    u, v = _object_coords(size, params["cx"], params["cy"], params["radius"], params["rotation"])
    pixel = (1.0 / params["radius"]).astype(np.float32)[:, None, None]  # one pixel in object units
    alpha = np.empty((m, size, size), dtype=np.float32)
    for name in np.unique(params["class_name"]):
        idx = np.flatnonzero(params["class_name"] == name)
        part = params["has_part"][idx, None, None]
        sdf = shape_sdf(str(name), u[idx], v[idx], has_part=part)
        alpha[idx] = np.clip(0.5 - sdf / pixel[idx], 0.0, 1.0)
    shade = np.ones((m, size, size), dtype=np.float32)  # 1 = object colour, lower = texture
    for texture in TEXTURES[1:]:
        idx = np.flatnonzero(params["texture"] == texture)
        if idx.size:
            pattern = _texture_pattern(texture, u[idx], v[idx], pixel[idx])
            shade[idx] = 1.0 - (1.0 - _TEXTURE_DARKNESS) * pattern
    base = np.array([COLOURS[c] for c in params["colour"]], dtype=np.float32)
    colour = base[:, :, None, None] * shade[:, None]
    colour -= canvas  # _paint, in place on the colour (the same operations, one array less)
    colour *= alpha[:, None]
    canvas += colour

    # occluder: a grey box laid over part of the object
    idx = np.flatnonzero(params["occluder"])
    if idx.size:
        qx = np.abs(pix[None, None, :] - params["occ_cx"][idx, None, None])
        qy = np.abs(pix[None, :, None] - params["occ_cy"][idx, None, None])
        box = np.maximum(
            qx - params["occ_w"][idx, None, None], qy - params["occ_h"][idx, None, None]
        )
        sub = canvas[idx]
        _paint(sub, np.clip(0.5 - box, 0.0, 1.0), params["occ_grey"][idx, None, None, None])
        canvas[idx] = sub

    from scipy import ndimage

    for sigma in np.unique(params["blur"]):
        if sigma <= 0:
            continue
        idx = np.flatnonzero(params["blur"] == sigma)
        canvas[idx] = ndimage.gaussian_filter(
            canvas[idx], sigma=(0, 0, sigma, sigma), mode="nearest"
        )

    # brightness, sensor noise, 8-bit quantisation
    canvas *= (255.0 * params["brightness"]).astype(np.float32)[:, None, None, None]
    canvas += _sensor_noise(rng, canvas.shape, 255.0 * params["noise"])
    canvas += 0.5
    np.clip(canvas, 0.0, 255.0, out=canvas)
    images = np.empty((m, size, size, 3), dtype=np.uint8)
    np.copyto(images, canvas.transpose(0, 2, 3, 1), casting="unsafe")  # truncates like astype
    return images
