"""YAML forms of networks and hardware, equivalent to MAESTRO's ``.m`` files.

Network::

    name: ResNet50
    layers:
      - name: CONV1
        type: CONV                      # CONV DSCONV NGCONV GEMM TRCONV, or FC (-> 1x1 CONV)
        dims: {K: 64, C: 3, R: 7, S: 7, Y: 224, X: 224}
        strides: {X: 2, Y: 2}           # optional, default 1
        dataflow:                       # optional; absent or null = unmapped layer
          - SpatialMap(1,1) K
          - TemporalMap(Sz(R),Sz(R)) R  # Sz(D) is resolved against dims
          - Cluster(64,P)

Hardware (every key optional; defaults are MAESTRO's HW-file defaults)::

    {num_pes: 256, l1_size: 100, l2_size: 3000, noc_bw: 1000, offchip_bw: 50,
     noc_latency: 1, simd_lanes: 1}

Loaders check every field and raise :class:`MaestroInputError` naming the file and the
field path, e.g. ``model.yaml: layers[3].dims.K: must be a positive integer``. Unlike a
``.m`` file, a layer without ``dataflow`` does not inherit the previous layer's one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import fields
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from ..dataflow import MAX_CLUSTERS, Cluster, Dataflow, Directive
from ..errors import MaestroInputError
from ..hardware import Hardware
from ..layer import CONV_FAMILY, Layer, Network
from ..sparsity.config import SparsityConfig
from ._dfsl import SUPPORTED_TYPES, directive_dim_error, parse_directive
from ._lexer import INT_MAX
from .validate import ALLOWED_DIMS, validate_dataflow

StrPath = str | PathLike
HW_FIELDS = tuple(f.name for f in fields(Hardware))


class _Err(Exception):
    """A problem at a field path; turned into MaestroInputError with the source."""

    def __init__(self, path: str, message: str, rule: str = "yaml-field"):
        super().__init__(message)
        self.path, self.message, self.rule = path, message, rule


# -- YAML text <-> Python data ----------------------------------------------------------------
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            break  # the base constructor reports unhashable keys
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Flow(dict):
    """A mapping dumped in flow style (``{K: 64, C: 3}``)."""


class _Dumper(_SafeDumper):  # type: ignore[misc, valid-type]
    pass


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise MaestroInputError(f"invalid YAML: {problem}", source=source, line=line,
                                rule="yaml-syntax") from None


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# -- field checks -----------------------------------------------------------------------------
def _mapping(value: Any, path: str, allowed: tuple[str, ...] | None = None) -> dict:
    if not isinstance(value, dict):
        raise _Err(path, f"must be a mapping, got {type(value).__name__}")
    if allowed is not None:
        for key in value:
            if key not in allowed:
                raise _Err(f"{path}.{key}" if path else str(key),
                           f"unknown field; expected one of {', '.join(allowed)}",
                           "yaml-unknown-field")
    return value


def _int(value: Any, path: str, minimum: int = 1) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > INT_MAX:
        raise _Err(path, f"{value} exceeds {INT_MAX}", "int-range")
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= INT_MAX:
        need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise _Err(path, f"must be {need}, got {value!r}", "yaml-value")
    return value


def _name(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise _Err(path, f"must be a non-empty string, got {value!r}", "yaml-value")
    return str(value)


# -- networks ---------------------------------------------------------------------------------
def network_to_dict(network: Network) -> dict:
    """Plain data for a network (the YAML form)."""
    layers = []
    for layer in network.layers:
        entry: dict[str, Any] = {"name": layer.name, "type": layer.type,
                                 "dims": _Flow((d, int(v)) for d, v in layer.dims.items())}
        strides = {d: int(s) for d, s in layer.strides.items() if int(s) != 1}
        if strides:
            entry["strides"] = _Flow(strides)
        if layer.dataflow is not None:
            entry["dataflow"] = [str(d) for d in layer.dataflow.directives]
            if layer.dataflow.l2_resident is not None:  # the physical model's DRAM-to-L2 level
                entry["l2_resident"] = int(layer.dataflow.l2_resident)
        if layer.density:  # sparsity: masks are written as their density
            entry["density"] = _Flow((t, d.value if d.mask is not None or not d.structured
                                      else str(d)) for t, d in layer.density.items())
        layers.append(entry)
    return {"name": network.name, "layers": layers}


def _layer_from_dict(entry: Any, path: str) -> Layer:
    entry = _mapping(entry, path, ("name", "type", "dims", "strides", "dataflow", "l2_resident",
                                   "density"))
    for key in ("name", "type", "dims"):
        if key not in entry:
            raise _Err(f"{path}.{key}", "missing required field", "yaml-missing-field")
    name = _name(entry["name"], f"{path}.name")
    ltype = entry["type"]
    if ltype not in SUPPORTED_TYPES:
        raise _Err(f"{path}.type", f"must be one of {', '.join(SUPPORTED_TYPES)}, got {ltype!r}",
                   "layer-type")
    dims = {}
    for d, v in _mapping(entry["dims"], f"{path}.dims").items():
        if d not in ALLOWED_DIMS[ltype]:
            raise _Err(f"{path}.dims.{d}", f"not a {ltype} dimension; expected one of "
                       f"{' '.join(ALLOWED_DIMS[ltype])}", "unknown-dimension")
        dims[d] = _int(v, f"{path}.dims.{d}")
    if not dims:
        raise _Err(f"{path}.dims", "must declare at least one dimension", "missing-dimensions")
    if ltype == "FC":
        ltype = "CONV"
        for d in ("R", "S", "Y", "X"):
            dims.setdefault(d, 1)
    for a, b in (("Y", "Y'"), ("X", "X'")):
        if a in dims and b in dims:
            raise _Err(f"{path}.dims", f"declare either {a} or {b}, not both",
                       "dimension-conflict")
    if ltype in CONV_FAMILY and not {"R", "S"} <= set(dims):
        raise _Err(f"{path}.dims", f"a {ltype} layer must declare R and S", "missing-rs")
    strides = {}
    for d, v in _mapping(entry.get("strides") or {}, f"{path}.strides", ("X", "Y")).items():
        strides[d] = _int(v, f"{path}.strides.{d}")
        if ltype == "GEMM" and strides[d] != 1:
            raise _Err(f"{path}.strides", "GEMM layers cannot be strided", "stride-dimension")
    dataflow = _dataflow_from_list(entry.get("dataflow"), ltype, dims, f"{path}.dataflow")
    if entry.get("l2_resident") is not None:
        if dataflow is None:
            raise _Err(f"{path}.l2_resident", "needs a dataflow", "l2-resident")
        dataflow = dataclasses.replace(
            dataflow, l2_resident=_int(entry["l2_resident"], f"{path}.l2_resident", 0))
    try:
        density = _mapping(entry.get("density") or {}, f"{path}.density")
        layer = Layer(name, ltype, dims, {d: s for d, s in strides.items() if s != 1}, dataflow,
                      density=density)
    except MaestroInputError as exc:
        raise _Err(path, exc.message, exc.rule or "layer") from None
    if dataflow is not None:
        try:
            validate_dataflow(layer)
        except MaestroInputError as exc:
            raise _Err(f"{path}.dataflow", exc.message, exc.rule or "dataflow") from None
    return layer


def _dataflow_from_list(value: Any, ltype: str, dims: dict[str, int], path: str
                        ) -> Dataflow | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _Err(path, "must be a non-empty list of directive strings (or absent)",
                   "yaml-value")
    directives: list[Directive] = []
    for i, text in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(text, str):
            raise _Err(where, f"must be a directive string, got {text!r}", "yaml-value")
        try:
            d = parse_directive(text, dims)
        except MaestroInputError as exc:
            raise _Err(where, exc.message, exc.rule or "directive") from None
        problem = directive_dim_error(ltype, dims, d)
        if problem:
            raise _Err(where, problem[0], problem[1])
        directives.append(d)
    if sum(isinstance(d, Cluster) for d in directives) > MAX_CLUSTERS:
        raise _Err(path, f"more than {MAX_CLUSTERS} Cluster directives", "cluster-count")
    return Dataflow(tuple(directives))


def network_from_dict(data: Any, source: str = "<dict>") -> Network:
    """Build and check a network from its YAML form."""
    try:
        data = _mapping(data, "(top level)", ("name", "layers"))
        if "layers" not in data:
            raise _Err("layers", "missing required field", "yaml-missing-field")
        layers = data["layers"]
        if not isinstance(layers, list) or not layers:
            raise _Err("layers", "must be a non-empty list of layers", "yaml-value")
        name = _name(data.get("name", "Network"), "name")
        return Network(name, [_layer_from_dict(e, f"layers[{i}]") for i, e in enumerate(layers)])
    except _Err as err:
        raise MaestroInputError(f"{err.path}: {err.message}", source=source,
                                rule=err.rule) from None


def format_network_yaml(network: Network) -> str:
    """The network as YAML text."""
    return _dump(network_to_dict(network))


def parse_network_yaml(text: str, source: str = "<string>") -> Network:
    """Parse YAML text describing a network."""
    return network_from_dict(_load_yaml(text, source), source)


def read_yaml_text(path: StrPath) -> str:
    """The text of a YAML file; a clear error when it is not UTF-8 (e.g. a binary file)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise MaestroInputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                                f"{exc.start}); expected a YAML text file", source=str(path),
                                line=line, rule="encoding") from None


def load_yaml_data(path: StrPath) -> Any:
    """The parsed contents of a YAML file (safe loader, duplicate keys refused); errors
    name the file and line."""
    return _load_yaml(read_yaml_text(path), str(path))


def load_network_yaml(path: StrPath) -> Network:
    """Read a network YAML file."""
    return parse_network_yaml(read_yaml_text(path), str(path))


def save_network_yaml(network: Network, path: StrPath) -> None:
    """Write a network YAML file."""
    Path(path).write_text(format_network_yaml(network), encoding="utf-8")


# -- hardware ---------------------------------------------------------------------------------
def hardware_to_dict(hw: Hardware) -> dict[str, int]:
    """Plain data for a hardware description (all fields)."""
    return {k: (float(v) if k == "clock_ghz" else int(v)) for k, v in hw.to_dict().items()}


def _positive_float(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < float(v) < float("inf"):
        raise _Err(key, f"must be a positive number, got {v!r}", "hardware")
    return float(v)


def hardware_from_dict(data: Any, source: str = "<dict>") -> Hardware:
    """Build and check hardware from its YAML form; absent fields take the defaults. A
    ``sparsity`` key is checked here and read by :func:`sparsity_from_dict`."""
    if isinstance(data, dict) and "sparsity" in data:
        data = dict(data)
        sparsity_from_dict(data, source)
        del data["sparsity"]
    try:
        data = _mapping({} if data is None else data, "", HW_FIELDS)
        values = {k: (_positive_float(v, k) if k == "clock_ghz" else
                      _int(v, k, 0 if k in ("noc_latency", "offchip_latency") else 1))
                  for k, v in data.items()}
    except _Err as err:
        raise MaestroInputError(f"{err.path}: {err.message}" if err.path else err.message,
                                source=source, rule=err.rule) from None
    return Hardware(**values)


SPARSITY_KEYS = ("formats", "compute", "on", "rle_bits", "coord_bits")


def sparsity_from_dict(data: Any, source: str = "<dict>") -> SparsityConfig | None:
    """The ``sparsity`` key of a hardware mapping (formats, compute action), or None."""
    if not isinstance(data, dict) or data.get("sparsity") is None:
        return None
    try:
        return SparsityConfig.from_dict(data["sparsity"], "sparsity")
    except MaestroInputError as exc:
        raise MaestroInputError(exc.message, source=source, rule=exc.rule) from None


def load_sparsity_yaml(path: StrPath) -> SparsityConfig | None:
    """The sparsity features of a YAML file: a hardware file's ``sparsity`` key (None when it
    has none), or a file that is the sparsity mapping itself (``formats``, ``compute``...)."""
    data = _load_yaml(read_yaml_text(path), str(path))
    if isinstance(data, dict) and "sparsity" not in data and set(data) & set(SPARSITY_KEYS):
        data = {"sparsity": data}
    return sparsity_from_dict(data, str(path))


def format_hardware_yaml(hw: Hardware) -> str:
    """The hardware as YAML text."""
    return _dump(hardware_to_dict(hw))


def parse_hardware_yaml(text: str, source: str = "<string>") -> Hardware:
    """Parse YAML text describing hardware; an empty document is an error (not 1 PE)."""
    data = _load_yaml(text, source)
    if data is None:
        raise MaestroInputError("hardware file is empty; expected a mapping such as "
                                "{num_pes: 168, l1_size: 512}", source=source, rule="hw-empty")
    return hardware_from_dict(data, source)


def load_hardware_yaml(path: StrPath) -> Hardware:
    """Read a hardware YAML file."""
    return parse_hardware_yaml(read_yaml_text(path), str(path))


def save_hardware_yaml(hw: Hardware, path: StrPath) -> None:
    """Write a hardware YAML file."""
    Path(path).write_text(format_hardware_yaml(hw), encoding="utf-8")
