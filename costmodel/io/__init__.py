"""Reading and writing networks and hardware: MAESTRO ``.m`` files and YAML.

:func:`load_network` and :func:`load_hardware_any` pick the format from the file
extension (``.m``, ``.yaml``, ``.yml``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from ..errors import MaestroInputError
from ..hardware import Hardware
from ..layer import Network
from .maestro import (
    format_hardware,
    format_mapping,
    load_hardware,
    load_mapping,
    parse_dataflow,
    parse_directive,
    parse_hardware,
    parse_mapping,
    save_hardware,
    save_mapping,
)
from .validate import validate_dataflow
from .yaml_io import (
    format_hardware_yaml,
    format_network_yaml,
    load_hardware_yaml,
    load_network_yaml,
    parse_hardware_yaml,
    parse_network_yaml,
    save_hardware_yaml,
    save_network_yaml,
)

__all__ = [
    "load_network", "load_hardware_any", "save_network", "save_hardware_any",
    "parse_mapping", "load_mapping", "format_mapping", "save_mapping", "validate_dataflow",
    "parse_directive", "parse_dataflow",
    "parse_hardware", "load_hardware", "format_hardware", "save_hardware",
    "parse_network_yaml", "load_network_yaml", "format_network_yaml", "save_network_yaml",
    "parse_hardware_yaml", "load_hardware_yaml", "format_hardware_yaml", "save_hardware_yaml",
]

_YAML = (".yaml", ".yml")


def _kind(path: str | PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext == ".m":
        return "m"
    if ext in _YAML:
        return "yaml"
    raise MaestroInputError(f"unknown file type {ext or '(none)'!r}; expected .m, .yaml or .yml",
                            source=str(path), rule="file-type")


def load_network(path: str | PathLike) -> Network:
    """Load a network from a MAESTRO mapping file (``.m``) or YAML (``.yaml``/``.yml``)."""
    return load_mapping(path) if _kind(path) == "m" else load_network_yaml(path)


def load_hardware_any(path: str | PathLike) -> Hardware:
    """Load hardware from a MAESTRO HW file (``.m``) or YAML (``.yaml``/``.yml``)."""
    return load_hardware(path) if _kind(path) == "m" else load_hardware_yaml(path)


def save_network(network: Network, path: str | PathLike) -> None:
    """Save a network as ``.m`` or YAML, chosen by the extension of ``path``."""
    (save_mapping if _kind(path) == "m" else save_network_yaml)(network, path)


def save_hardware_any(hw: Hardware, path: str | PathLike) -> None:
    """Save hardware as a MAESTRO HW file (``.m``) or YAML, chosen by the extension."""
    (save_hardware if _kind(path) == "m" else save_hardware_yaml)(hw, path)
