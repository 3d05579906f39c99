"""CT-like grey scenes: a body ellipse, two dark lung fields, a scanner table and noise, with
four features that can be planted (``FEATURES``).

A :class:`Scene` holds every random draw of a batch (anatomy, where each feature would go,
noise), so the same scene renders with any set of features present (:func:`render`) and every
feature has a mask in every image, also where it is absent (:func:`feature_masks`). 2-D scenes
are (H, W) = (size, size) pixels; 3-D scenes (size, size, size) voxels of 1 mm, the body an
elliptic cylinder along the first axis, lungs ellipsoids, the glyph three slices deep.

Features (intensities in 8-bit grey levels):

- ``lesion``: a ground-glass disk (ball in 3-D) in one lung field, raised by a textured +9.6
  to +16 (``LESION_GAIN`` times 0.6 to 1; in 3-D ``LESION_GAIN_3D``, +19.2 to +32);
- ``ring``: a bright ring (spherical shell) in one lung field, +40; its mask is the full disk;
- ``glyph``: a bright 7x5 text-like glyph in a top corner outside the body, 250; its mask is
  the glyph's box;
- ``rim``: a bright rim along the upper edge of the body, 230.

The lesion is faint and the context bright by design: the lesion lies about two noise
standard deviations (``NOISE_SD``) above the lung field (35), as ground glass is faint on CT,
while the glyph and the rim are the brightest things in the image. A network that can read the
cause still has a reason to take the more salient shortcut, so the benchmark tests the maps on
networks that may use either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Final

import torch
from torch import Tensor

from ..errors import InputError

FEATURES: Final[tuple[str, ...]] = ("lesion", "ring", "glyph", "rim")

AIR, BODY, LUNG, TABLE = 8.0, 120.0, 35.0, 170.0
NOISE_SD: Final = 6.0
LESION_GAIN, RING_GAIN, GLYPH_LEVEL, RIM_LEVEL = 16.0, 40.0, 250.0, 230.0
#: The lesion's texture scales its gain between this floor and 1.
LESION_FLOOR: Final = 0.6
#: the lesion's gain in 3-D scenes: a ball of ~100 voxels in a 32^3 volume, twice the 2-D
#: contrast so that a small 3-D network learns to find it
LESION_GAIN_3D: Final = 32.0
#: A letter-like glyph ("R"), rows top to bottom.
GLYPH: Final = torch.tensor(
    [
        [1, 1, 1, 1, 0],
        [1, 0, 0, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0],
        [1, 0, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 0, 0, 1],
    ],
    dtype=torch.float32,
)


@dataclass(frozen=True)
class Scene:
    """Every random draw of a batch of ``n`` scenes; lengths in pixels (voxels), (n,) each.

    ``body``/``lungs``: centre and semi-axes; ``lesion_at``/``ring_at``: centres in a lung
    (``*_side`` 0 left, 1 right); ``glyph_at``: top-left corner of the glyph; ``noise``: the
    noise field (n, *shape); ``texture``: the lesion's texture field (n, *shape).
    """

    ndim: int
    size: int
    body_y: Tensor
    body_x: Tensor
    body_ay: Tensor
    body_ax: Tensor
    lung_dx: Tensor
    lung_ay: Tensor
    lung_ax: Tensor
    lesion_y: Tensor
    lesion_x: Tensor
    lesion_z: Tensor
    ring_y: Tensor
    ring_x: Tensor
    ring_z: Tensor
    glyph_y: Tensor
    glyph_x: Tensor
    glyph_z: Tensor
    noise: Tensor
    texture: Tensor

    @property
    def n(self) -> int:
        return int(self.body_y.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.size,) * self.ndim

    @property
    def feature_radius(self) -> float:
        """Radius of the lesion and of the ring (9% of the image)."""
        return 0.09 * self.size

    def subset(self, pick: Tensor) -> Scene:
        """The scenes at indices ``pick`` (every draw taken, in that order)."""
        per_image = {
            f.name: getattr(self, f.name)[pick]
            for f in fields(self)
            if f.name not in ("ndim", "size")
        }
        return replace(self, **per_image)


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _in_lung(
    gen: torch.Generator, n: int, body_y: Tensor, body_x: Tensor, dx: Tensor, ay: Tensor, ax: Tensor
) -> tuple[Tensor, Tensor]:
    """A point in the inner half of a random lung field (left or right)."""
    side = torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1
    angle = _uniform(gen, n, 0.0, 2 * torch.pi)
    radius = 0.45 * torch.rand(n, generator=gen).sqrt()
    y = body_y - 0.02 * ay / 0.19 + radius * ay * torch.sin(angle) * 0.8
    x = body_x + side * dx + radius * ax * torch.cos(angle) * 0.6
    return y, x


def draw_scene(n: int, size: int = 64, ndim: int = 2, seed: int = 0) -> Scene:
    """Draw ``n`` scenes of ``size`` pixels a side (``ndim`` 2 or 3), reproducibly from ``seed``."""
    if ndim not in (2, 3):
        raise InputError(f"ndim must be 2 or 3, got {ndim}")
    if n < 1 or size < 24:
        raise InputError(f"need n >= 1 and size >= 24 pixels, got n={n}, size={size}")
    gen = torch.Generator().manual_seed(seed)
    s = float(size)
    body_y = s * _uniform(gen, n, 0.45, 0.51)
    body_x = s * _uniform(gen, n, 0.47, 0.53)
    body_ay = s * 0.30 * _uniform(gen, n, 0.93, 1.07)
    body_ax = s * 0.40 * _uniform(gen, n, 0.93, 1.07)
    lung_dx = body_ax * 0.43
    lung_ay = body_ay * 0.62
    lung_ax = body_ax * 0.30
    lesion_y, lesion_x = _in_lung(gen, n, body_y, body_x, lung_dx, lung_ay, lung_ax)
    ring_y, ring_x = _in_lung(gen, n, body_y, body_x, lung_dx, lung_ay, lung_ax)
    corner = torch.randint(0, 2, (n,), generator=gen).float()
    glyph_x = s * (_uniform(gen, n, 0.03, 0.12) + corner * 0.75)
    glyph_y = s * _uniform(gen, n, 0.02, 0.08)
    depth = _uniform(gen, n, 0.35, 0.65) * s
    lesion_z, ring_z = depth, s - depth
    glyph_z = s * _uniform(gen, n, 0.1, 0.8)
    shape = (n,) + (size,) * ndim
    noise = torch.randn(shape, generator=gen)
    texture = torch.rand(shape, generator=gen)
    return Scene(
        ndim, size, body_y, body_x, body_ay, body_ax, lung_dx, lung_ay, lung_ax,
        lesion_y, lesion_x, lesion_z, ring_y, ring_x, ring_z, glyph_y, glyph_x, glyph_z,
        noise, texture,
    )  # fmt: skip


def _grid(scene: Scene) -> tuple[Tensor, Tensor, Tensor | None]:
    """Pixel-centre coordinates (y, x, z) broadcastable against (n, *shape)."""
    axis = torch.arange(scene.size, dtype=torch.float32) + 0.5
    if scene.ndim == 2:
        return axis.view(1, -1, 1), axis.view(1, 1, -1), None
    return axis.view(1, 1, -1, 1), axis.view(1, 1, 1, -1), axis.view(1, -1, 1, 1)


def _col(values: Tensor, ndim: int) -> Tensor:
    return values.view(-1, *([1] * ndim))


def _radius2(
    scene: Scene,
    cy: Tensor,
    cx: Tensor,
    ay: Tensor,
    ax: Tensor,
    cz: Tensor | None = None,
    az: Tensor | None = None,
) -> Tensor:
    """``((y - cy) / ay)^2 + ((x - cx) / ax)^2 (+ ((z - cz) / az)^2 in 3-D when given)``."""
    y, x, z = _grid(scene)
    d = scene.ndim
    r2 = ((y - _col(cy, d)) / _col(ay, d)) ** 2 + ((x - _col(cx, d)) / _col(ax, d)) ** 2
    if z is not None and cz is not None and az is not None:
        r2 = r2 + ((z - _col(cz, d)) / _col(az, d)) ** 2
    return r2


def _ball(scene: Scene, cy: Tensor, cx: Tensor, cz: Tensor, radius: float) -> Tensor:
    r = torch.full_like(cy, radius)
    return _radius2(scene, cy, cx, r, r, cz, r)


def _lungs(scene: Scene) -> Tensor:
    half = torch.full_like(scene.body_y, scene.size * 0.38)
    mid = torch.full_like(scene.body_y, scene.size / 2)
    inside = torch.zeros((scene.n, *scene.shape), dtype=torch.bool)
    for side in (-1.0, 1.0):
        r2 = _radius2(
            scene,
            scene.body_y - 0.02 * scene.lung_ay / 0.19,
            scene.body_x + side * scene.lung_dx,
            scene.lung_ay,
            scene.lung_ax,
            mid,
            half,
        )
        inside |= r2 <= 1
    return inside


def _glyph(scene: Scene) -> tuple[Tensor, Tensor]:
    """(glyph pixels, glyph box) as float and bool (n, *shape)."""
    y, x, z = _grid(scene)
    d = scene.ndim
    cell = max(1.0, scene.size / 64)
    row = torch.floor((y - _col(scene.glyph_y, d)) / cell)
    col = torch.floor((x - _col(scene.glyph_x, d)) / cell)
    rows, cols = GLYPH.shape
    box = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    if z is not None:
        depth = z - _col(scene.glyph_z, d)
        box = box & (depth >= 0) & (depth < 3 * cell)
    index = (row.clamp(0, rows - 1) * cols + col.clamp(0, cols - 1)).long()
    index = index.expand(scene.n, *scene.shape)
    pixels = GLYPH.flatten()[index] * box
    return pixels, box


def _rim(scene: Scene) -> Tensor:
    y, _, _ = _grid(scene)
    d = scene.ndim
    r2 = _radius2(scene, scene.body_y, scene.body_x, scene.body_ay, scene.body_ax)
    thickness = 2.5 * max(1.0, scene.size / 64)
    inner = 1 - thickness / scene.body_ay
    upper = y < _col(scene.body_y - 0.3 * scene.body_ay, d)
    rim = (r2 <= 1) & (r2 > _col(inner, d) ** 2) & upper
    return rim.expand(scene.n, *scene.shape)


def feature_masks(scene: Scene) -> dict[str, Tensor]:
    """Each feature's mask (n, *shape) bool for every image, present or not."""
    radius = scene.feature_radius
    return {
        "lesion": _ball(scene, scene.lesion_y, scene.lesion_x, scene.lesion_z, radius) <= 1,
        "ring": _ball(scene, scene.ring_y, scene.ring_x, scene.ring_z, radius) <= 1,
        "glyph": _glyph(scene)[1].expand(scene.n, *scene.shape).clone(),
        "rim": _rim(scene).clone(),
    }


def _check_present(scene: Scene, present: Mapping[str, Tensor]) -> dict[str, Tensor]:
    unknown = sorted(set(present) - set(FEATURES))
    if unknown:
        raise InputError(f"unknown feature(s) {unknown}; known: {', '.join(FEATURES)}")
    out = {}
    for name in FEATURES:
        flags = present.get(name, torch.zeros(scene.n, dtype=torch.bool))
        if flags.shape != (scene.n,):
            raise InputError(
                f"presence of {name!r} must have shape ({scene.n},), got {tuple(flags.shape)}"
            )
        out[name] = _col(flags.bool(), scene.ndim)
    return out


def render(scene: Scene, present: Mapping[str, Tensor]) -> Tensor:
    """uint8 images (n, *shape) of ``scene`` with the features flagged in ``present``
    (feature name -> (n,) bool; a missing name is absent in every image)."""
    flags = _check_present(scene, present)
    d, s = scene.ndim, scene.size
    y, _, _ = _grid(scene)
    image = torch.full((scene.n, *scene.shape), AIR)
    body = _radius2(scene, scene.body_y, scene.body_x, scene.body_ay, scene.body_ax) <= 1
    image = torch.where(body, BODY, image)
    image = torch.where(_lungs(scene) & body, LUNG, image)
    table_top = _col(scene.body_y + scene.body_ay, d) + 0.05 * s
    table = (y >= table_top) & (y < table_top + 0.05 * s)
    image = torch.where(table.expand_as(image), TABLE, image)
    masks = feature_masks(scene)
    lesion = masks["lesion"] & flags["lesion"]
    gain = LESION_GAIN if d == 2 else LESION_GAIN_3D
    image = image + gain * (LESION_FLOOR + 0.4 * scene.texture) * lesion
    radius = scene.feature_radius
    inner = _ball(scene, scene.ring_y, scene.ring_x, scene.ring_z, 0.6 * radius) > 1
    image = image + RING_GAIN * (masks["ring"] & inner & flags["ring"])
    image = torch.where(masks["rim"] & flags["rim"], RIM_LEVEL, image)
    pixels, _ = _glyph(scene)
    image = torch.where((pixels > 0) & flags["glyph"], GLYPH_LEVEL, image)
    image = image + NOISE_SD * scene.noise
    return image.round().clamp(0, 255).to(torch.uint8)
