"""Bundled model zoo: layer shapes of well-known networks, shipped as YAML data files.

>>> from mapper.workloads.zoo import list_models, load_model
>>> "resnet50" in list_models()
True
>>> net = load_model("ResNet-50")          # case-insensitive; '-', '_', '.', ' ' ignored
>>> len(net.layers), net.layers[0].name
(54, 'CONV1')

Each model is ``mapper/workloads/zoo/data/<key>.yaml`` in the network YAML schema of
:mod:`costmodel.io.yaml_io` plus two optional fields::

    name: ResNet50
    source: "<one line on where the shapes come from>"
    layers:
      - {name: CONV1, type: CONV, dims: {K: 64, C: 3, R: 7, S: 7, Y: 224, X: 224},
         strides: {X: 2, Y: 2}}
      - {name: ATTN_SCORE, type: GEMM, dims: {M: 512, N: 512, K: 64}, count: 12}

``count`` (default 1) says how many identical, independent instances of the layer the
network runs (e.g. one attention GEMM per head). It only enters whole-model totals; the
:class:`~costmodel.layer.Network` returned by :func:`load_model` holds one entry per
layer, and the counts travel in :attr:`ZooNetwork.counts` (also
:func:`load_model_counts`). Zoo files carry no dataflows.

Shape conventions (those of MAESTRO's own mapping files): ``Y``/``X`` are a layer's
*input* activation size without padding, because MAESTRO has no padding; a "same"-padded
3x3 convolution on 56x56 is declared with ``Y: 56`` and MAESTRO (and ``Layer.macs``) sees a
54x54 output. Totals are therefore below textbook MAC counts, most for small late-stage
maps (ResNet-50 v1: 3.41 vs 3.86 GMACs, VGG16: 14.0 vs 15.5, MobileNetV2: 0.298 vs 0.301).
:mod:`mapper.workloads.onnx_import` instead declares the padded input size, which gives exact MACs.
Fully-connected layers are 1x1 CONVs on a 1x1 input, depthwise convolutions are
``DSCONV`` with ``K: 1`` declared, grouped ones ``NGCONV``. The ``source`` line of each
file says where its shapes come from and what was changed from that source.

LLMs (``llama3_8b``, ``llama2_7b``) are files with an ``llm:`` block instead of ``layers``;
their phase, context/prompt length and batch are chosen in the name, e.g.
``load_model("llama3_8b:decode:context=4096:batch=8")``, or in the block of a model file
(see :mod:`mapper.workloads.llm`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from costmodel.errors import MaestroInputError
from costmodel.layer import Layer, Network
from mapper.workloads.llm import LlmWorkload, workload_from_dict

__all__ = [
    "DATA_DIR", "ZooNetwork", "list_models", "model_path", "load_model", "load_model_counts",
    "load_model_file", "parse_model_yaml", "model_from_dict", "format_model_yaml",
    "total_macs", "resolve_model_name", "llm_models",
]

#: Directory of the bundled ``<key>.yaml`` files.
DATA_DIR = Path(__file__).resolve().parent / "data"

#: Extra lookup names (normalised, see :func:`_norm`) -> zoo key. File stems and the
#: networks' own names need no entry.
_ALIASES = {
    "squeezenet": "squeezenet1_0",
    "bert": "bert_base",
    "gpt2": "gpt2_small",
    "gpt": "gpt2_small",
    "dlrmrmc1": "dlrm",
    "transformercomplete": "transformer",
    "gnmtgemm": "gnmt",
    "ncfgemm": "ncf",
    "blas3": "gemm_example",
    "maestroexample": "example",
    "mobilenet": "mobilenetv2",
    "bertbaselayer": "bert_base",
    "gpt2smalllayer": "gpt2_small",
}


@dataclass
class ZooNetwork(Network):
    """A :class:`~costmodel.layer.Network` with per-layer instance counts and provenance.

    ``counts`` maps layer names to how many identical instances the model runs; layers
    not listed run once. ``source`` is the one-line provenance of the shapes and ``key``
    the zoo key (empty for a network read from a file; with its parameters for an LLM
    loaded by a parametrised name).
    """

    counts: dict[str, int] = field(default_factory=dict)
    source: str = ""
    key: str = ""
    #: the :class:`~mapper.workloads.llm.LlmWorkload` (phase, tokens, batch) of an LLM
    llm: LlmWorkload | None = None

    def count(self, layer: Layer | str) -> int:
        """How many instances of ``layer`` (a layer or its name) the model runs."""
        return int(self.counts.get(layer if isinstance(layer, str) else layer.name, 1))

    @property
    def total_macs(self) -> int:
        """Sum of ``Layer.macs`` x count over all layers."""
        return total_macs(self, self.counts)

    @property
    def num_instances(self) -> int:
        """Number of layer instances, counts included."""
        return sum(self.count(layer) for layer in self.layers)


def total_macs(network: Network, counts: Mapping[str, int] | None = None) -> int:
    """Whole-model MACs: ``Layer.macs`` times the layer's count (default 1), summed."""
    if counts is None:
        counts = getattr(network, "counts", None) or {}
    return sum(layer.macs * int(counts.get(layer.name, 1)) for layer in network.layers)


# -- names ------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def list_models() -> list[str]:
    """Keys of the bundled models (``<key>.yaml`` file stems), sorted."""
    return sorted(p.stem for p in DATA_DIR.glob("*.yaml"))


def _index() -> dict[str, str]:
    index = {}
    for key in list_models():
        index[_norm(key)] = key
    for alias, key in _ALIASES.items():
        index.setdefault(alias, key)
    return index


def resolve_model_name(name: str) -> str:
    """The zoo key for ``name``: case-insensitive, ignoring ``-``, ``_``, ``.`` and spaces,
    with a few aliases (``ResNet-50``, ``mobilenet_v2``, ``bert``, ``gpt2``, ...).

    Raises :class:`MaestroInputError` listing the available models for an unknown name.
    """
    index = _index()
    key = index.get(_norm(name))
    if key is None:
        available = list_models()
        close = difflib.get_close_matches(_norm(name), list(index), n=3, cutoff=0.6)
        hint = ""
        if close:
            keys = list(dict.fromkeys(index[c] for c in close))
            hint = " (did you mean " + (", ".join(keys[:-1]) + " or " if keys[1:] else "") \
                + keys[-1] + "?)"
        raise MaestroInputError(
            f"unknown model {name!r}{hint}; available models: {', '.join(available)}",
            rule="unknown-model")
    return key


def model_path(name: str) -> Path:
    """Path of the bundled YAML file of model ``name`` (any accepted spelling; LLM
    parameters after ``:`` are ignored)."""
    return DATA_DIR / f"{resolve_model_name(name.partition(':')[0])}.yaml"


def llm_models() -> list[str]:
    """Keys of the bundled models that are LLMs (take ``:phase:...`` parameters)."""
    return [key for key in list_models() if "llm" in _read_data(DATA_DIR / f"{key}.yaml")]


def load_model(name: str) -> ZooNetwork:
    """Load a bundled model by name (see :func:`resolve_model_name`); an LLM name may carry
    parameters, e.g. ``llama3_8b:prefill:prompt=2048:batch=4``.

    Returns a fresh :class:`ZooNetwork` (a :class:`~costmodel.layer.Network`) on every
    call, so callers may modify it (e.g. attach dataflows).
    """
    base, sep, params = name.partition(":")
    key = resolve_model_name(base)
    path = DATA_DIR / f"{key}.yaml"
    data = _read_data(path)
    if sep and not (isinstance(data, dict) and "llm" in data):
        raise MaestroInputError(
            f"model {key!r} takes no parameters (got {':' + params!r}); only LLMs do: "
            f"{', '.join(llm_models())}", rule="llm-parameter")
    net = model_from_dict(data, str(path), spec=f"{key}:{params}" if sep else key)
    net.key = net.llm.spec if sep and net.llm else key
    return net


def load_model_counts(name: str) -> dict[str, int]:
    """``{layer name: count}`` of a bundled model, for every layer (1 where not given)."""
    net = load_model(name)
    return {layer.name: net.count(layer) for layer in net.layers}


# -- reading ----------------------------------------------------------------------------------
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when available
    """Safe loader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            dup = key in seen
        except TypeError:  # unhashable key: let the base constructor report it
            break
        if dup:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _network_from_plain_dict(data: dict, source: str) -> Network:
    """Build the network from its plain YAML form (no ``source``/``count`` fields)."""
    from costmodel.io.yaml_io import network_from_dict

    return network_from_dict(data, source)


def _resolve_llm_arch(name: str) -> tuple[str, str, Any]:
    """``(key, title, arch mapping)`` of a bundled LLM, for ``llm: {arch: NAME}``."""
    key = resolve_model_name(name)
    data = _read_data(DATA_DIR / f"{key}.yaml")
    block = data.get("llm") if isinstance(data, dict) else None
    if not isinstance(block, dict) or not isinstance(block.get("arch"), dict):
        raise MaestroInputError(f"llm.arch: {name!r} is not an LLM of the zoo; LLMs: "
                                f"{', '.join(llm_models())}", rule="yaml-value")
    return key, str(data.get("name", key)), block["arch"]


def _llm_network(data: dict, source: str, spec: str | None) -> ZooNetwork:
    """The GEMMs of an ``llm:`` block (see :mod:`mapper.workloads.llm`)."""
    extra = sorted(set(map(str, data)) - {"name", "source", "llm"})
    if extra:
        raise MaestroInputError(f"(top level): an 'llm' model takes only name, source and llm; "
                                f"got {', '.join(extra)}", source=source, rule="yaml-field")
    title = str(data.get("name") or "LLM")
    key = spec.partition(":")[0] if spec else _norm(title) or "llm"
    work = workload_from_dict(data["llm"], key=key, title=title,
                              source=source, spec=spec, resolve_arch=_resolve_llm_arch)
    if data.get("name"):  # a file's own name wins over the architecture's
        work = replace(work, title=title)
    provenance = str(data.get("source") or "")
    provenance = (provenance + "; " if provenance else "") + f"this step: {work.spec}"
    gemms = work.gemms()
    return ZooNetwork(work.network_name, [layer for layer, _ in gemms],
                      counts={layer.name: n for layer, n in gemms if n != 1},
                      source=provenance, llm=work)


def model_from_dict(data: Any, source: str = "<dict>", spec: str | None = None) -> ZooNetwork:
    """Build a :class:`ZooNetwork` from the zoo YAML form (a plain network YAML works too).

    ``source`` names the origin in error messages. Counts require unique layer names. An
    ``llm:`` block gives an LLM's GEMMs; ``spec`` (``KEY:PARAM...``) overrides its parameters.
    """
    if not isinstance(data, dict):
        raise MaestroInputError(f"(top level): must be a mapping, got {type(data).__name__}",
                                source=source, rule="yaml-field")
    if "llm" in data:
        return _llm_network(data, source, spec)
    data = dict(data)
    provenance = data.pop("source", "")
    if provenance is None:
        provenance = ""
    if not isinstance(provenance, str):
        raise MaestroInputError(f"source: must be a string, got {provenance!r}",
                                source=source, rule="yaml-value")
    counts: dict[str, int] = {}
    layers = data.get("layers")
    if isinstance(layers, list):
        plain_layers = []
        for i, entry in enumerate(layers):
            if isinstance(entry, dict) and "count" in entry:
                entry = dict(entry)
                n = entry.pop("count")
                if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                    raise MaestroInputError(
                        f"layers[{i}].count: must be a positive integer, got {n!r}",
                        source=source, rule="yaml-value")
                if n != 1:
                    counts[str(entry.get("name"))] = n
            plain_layers.append(entry)
        data["layers"] = plain_layers
    net = _network_from_plain_dict(data, source)
    names = [layer.name for layer in net.layers]
    if counts and len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise MaestroInputError(
            f"layer names must be unique when counts are given; repeated: {', '.join(dup)}",
            source=source, rule="duplicate-layer-name")
    return ZooNetwork(net.name, net.layers, counts=counts, source=provenance)


def _parse_data(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MaestroInputError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
                                source=source, line=mark.line + 1 if mark else None,
                                rule="yaml-syntax") from None


def _read_data(path: Path) -> Any:
    return _parse_data(path.read_text(encoding="utf-8"), str(path))


def parse_model_yaml(text: str, source: str = "<string>") -> ZooNetwork:
    """Parse zoo-schema (or plain network) YAML text."""
    return model_from_dict(_parse_data(text, source), source)


def load_model_file(path: str | PathLike) -> ZooNetwork:
    """Read a zoo-schema YAML file (``source`` and per-layer ``count`` allowed)."""
    return parse_model_yaml(Path(path).read_text(encoding="utf-8"), str(path))


# -- writing ----------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "~"}  # as PyYAML resolves them


def _scalar(value: Any) -> str:
    """A YAML scalar for a name or dimension key: bare when safe, else double-quoted."""
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _flow(mapping: Mapping[str, int]) -> str:
    return "{" + ", ".join(f"{_scalar(k)}: {int(v)}" for k, v in mapping.items()) + "}"


def format_model_yaml(network: Network, counts: Mapping[str, int] | None = None,
                      source: str | None = None, header: Iterable[str] = ()) -> str:
    """The network in the zoo YAML schema, one flow-style line per layer.

    ``counts`` defaults to ``network.counts`` and ``source`` to ``network.source`` when the
    network is a :class:`ZooNetwork`. ``header`` lines are written first as ``#`` comments.
    Dataflows are not written.
    """
    if counts is None:
        counts = getattr(network, "counts", None) or {}
    if source is None:
        source = getattr(network, "source", "") or ""
    lines = [f"# {h}".rstrip() for h in header]
    lines.append(f"name: {_scalar(network.name)}")
    if source:
        lines.append(f"source: {json.dumps(' '.join(source.split()))}")
    lines.append("layers:")
    for layer in network.layers:
        parts = [f"name: {_scalar(layer.name)}", f"type: {layer.type}",
                 f"dims: {_flow(layer.dims)}"]
        strides = {d: int(s) for d, s in layer.strides.items() if int(s) != 1}
        if strides:
            parts.append(f"strides: {_flow(strides)}")
        n = int(counts.get(layer.name, 1))
        if n != 1:
            parts.append(f"count: {n}")
        lines.append("  - {" + ", ".join(parts) + "}")
    return "\n".join(lines) + "\n"
