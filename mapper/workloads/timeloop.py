"""Layers from Timeloop problem files (the ``CNN-Layer`` problem shape).

Timeloop describes one layer per YAML file, ``problem:`` with an ``instance`` of the dims
``C`` (input channels), ``M`` (output channels; ``K`` in some front ends), ``R``, ``S``
(filter), ``P``, ``Q`` (output rows and columns), ``N`` (batch) and ``Hstride``/``Wstride``
(``Hdilation``/``Wdilation`` must be 1). The v0.3 form nests them under ``instance``, the
v0.4 form too (with ``version``), and some front ends (e.g. CoSA) put them right under
``problem``. A folder of such files is a network, its layers in natural file-name order
(``layer2`` before ``layer10``).

MAESTRO's Y/X are input sizes without padding, so a layer is ``Y = (P - 1) * Hstride + R``,
``X = (Q - 1) * Wstride + S``: the same output size and MAC count as Timeloop's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from costmodel import Layer, Network
from costmodel.errors import MaestroInputError
from costmodel.io.yaml_io import load_yaml_data

_DIMS = ("C", "R", "S", "P", "Q")


def is_timeloop_problem(data: Any) -> bool:
    """Whether parsed YAML is (meant as) a Timeloop problem description."""
    return isinstance(data, dict) and "problem" in data


def problem_layer(data: dict, name: str, source: str) -> Layer:
    """The layer of one parsed Timeloop problem file."""
    prob = data["problem"]
    if not isinstance(prob, dict):
        raise MaestroInputError(f"problem must be a mapping (shape, instance), got {prob!r}",
                                source=source, rule="timeloop-problem")
    shape = prob.get("shape")
    shape_name = shape.get("name") if isinstance(shape, dict) else shape
    if shape_name is not None and str(shape_name).lower().replace("_", "-") != "cnn-layer":
        raise MaestroInputError(f"problem shape {shape_name!r}: only Timeloop's CNN-Layer "
                                "shape is read", source=source, rule="timeloop-shape")
    inst = prob.get("instance", prob)
    if not isinstance(inst, dict):
        raise MaestroInputError("problem.instance must be a mapping of dims to sizes",
                                source=source, rule="timeloop-instance")

    def get(key: str, default: int | None = None) -> int:
        v = inst.get(key, default)
        if v is None:
            raise MaestroInputError(f"problem instance has no {key}", source=source,
                                    rule="timeloop-instance")
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise MaestroInputError(f"problem instance {key} must be a positive integer, "
                                    f"got {v!r}", source=source, rule="timeloop-instance")
        return v

    out_key = "M" if "M" in inst else "K"
    c, r, s, p, q = (get(k) for k in _DIMS)
    k, n = get(out_key), get("N", 1)
    hs, ws = get("Hstride", 1), get("Wstride", 1)
    if get("Hdilation", 1) != 1 or get("Wdilation", 1) != 1:
        raise MaestroInputError("dilated convolutions are not modelled (Hdilation and "
                                "Wdilation must be 1)", source=source, rule="timeloop-dilation")
    dims = {"K": k, "C": c, "R": r, "S": s, "Y": (p - 1) * hs + r, "X": (q - 1) * ws + s}
    if n != 1:
        dims = {"N": n, **dims}
    strides = {k_: v for k_, v in (("Y", hs), ("X", ws)) if v != 1}
    return Layer(name, "CONV", dims, strides)


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.stem)]


def load_timeloop(path: str | Path) -> Network:
    """A Timeloop problem file (one layer) or a folder of them (a network)."""
    p = Path(path)
    files = (sorted([f for f in p.iterdir() if f.suffix.lower() in (".yaml", ".yml")],
                    key=_natural) if p.is_dir() else [p])
    layers = []
    for f in files:
        data = load_yaml_data(f)
        if not is_timeloop_problem(data):
            if p.is_dir():
                continue  # architecture, mapper or constraint files beside the problems
            raise MaestroInputError("no 'problem' key: not a Timeloop problem file",
                                    source=str(f), rule="timeloop-problem")
        layers.append(problem_layer(data, f.stem, str(f)))
    if not layers:
        raise MaestroInputError("no Timeloop problem file (YAML with a 'problem' key) here",
                                source=str(p), rule="timeloop-problem")
    return Network(p.stem if p.is_file() else p.name, layers)
