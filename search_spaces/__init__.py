"""Search spaces: what a strategy may choose (mappings, hardware) and what is feasible."""

from .constraints import Constraints
from .mapping_space import Genomes, MappingSpace

__all__ = ["Constraints", "Genomes", "MappingSpace"]
