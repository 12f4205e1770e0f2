"""Search spaces: what a strategy may choose (mappings, hardware) and what is feasible.

:class:`MappingSpace` is the space of one layer's dataflows; :mod:`.variation` holds the
genetic operators on its :class:`Genomes`, :mod:`.enumeration` lists a finite space and
:mod:`.optuna_encoding` draws a genome through an Optuna trial.
"""

from .constraints import Constraints
from .genomes import Genomes
from .mapping_space import MappingSpace

__all__ = ["Constraints", "Genomes", "MappingSpace"]
