"""MAESTRO-exact analytical cost model for DNN dataflows, vectorised with numpy."""

from .dataflow import Cluster, Dataflow, Directive, SpatialMap, TemporalMap
from .errors import MaestroInputError, MappingError
from .hardware import Hardware
from .layer import Layer, Network, TensorTable, tensor_table

__all__ = [
    "Cluster", "Dataflow", "Directive", "SpatialMap", "TemporalMap", "MaestroInputError",
    "MappingError", "Hardware", "Layer", "Network", "TensorTable", "tensor_table",
]
