"""The embedded planted-failure world: procedurally drawn images with known failure modes.

>>> from failwidgets.datasets import make_world
>>> world = make_world(n_images=2000, seed=0)
>>> world.images.shape, world.failures[0].kind
((2000, 64, 64, 3), 'spurious_background')
"""

from .drawing import BACKGROUNDS, CLASS_NAMES, COLOURS, PARTS, TEXTURES
from .failures import (
    FAILURE_KINDS,
    PlantedFailure,
    conjunction,
    default_failures,
    missing_part,
    spurious_background,
    texture_confusion,
)
from .world import GENERATOR_VERSION, World, make_world
from .world_cache import cached_world

__all__ = [
    "BACKGROUNDS",
    "CLASS_NAMES",
    "COLOURS",
    "FAILURE_KINDS",
    "GENERATOR_VERSION",
    "PARTS",
    "TEXTURES",
    "PlantedFailure",
    "World",
    "cached_world",
    "conjunction",
    "default_failures",
    "make_world",
    "missing_part",
    "spurious_background",
    "texture_confusion",
]
