"""Sparsity in the ``physical`` model: per-tensor densities (random or N:M), storage formats
with metadata, skipping and gating at the compute, and load imbalance under skipping.

See ``docs/sparsity.md``. :mod:`.density` parses densities, :mod:`.config` the accelerator's
formats and compute action, :mod:`.stats` the tile occupancy statistics (the expected maximum
over units), :mod:`.formats` the stored bits per format, :mod:`.report` the report hook.
"""

from .config import ACTIONS, FORMATS, LEVELS, SparsityConfig, hardware_choices, uniform
from .density import DENSE, Density, layer_density, parse_density

__all__ = ["ACTIONS", "DENSE", "FORMATS", "LEVELS", "Density", "SparsityConfig",
           "hardware_choices", "layer_density", "parse_density", "uniform"]
