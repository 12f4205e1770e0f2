"""Layers from ZigZag workload files.

ZigZag describes a workload as a list of operators (a YAML file, ZigZag 3) or as a Python
file whose ``workload = {id: {...}}`` dict holds them (ZigZag 2 and Stream; read as a
literal, never executed). Each operator names its loop dims and their sizes
(``loop_dims`` + ``loop_sizes``, or ``loop_dim_size``) and how input rows follow output rows
and filter taps (``dimension_relations``, e.g. ``ix=2*ox+1*fx``: stride 2). From the dims:

* ``FY``/``FX`` with ``K`` and ``C``: a CONV (K, C, R = FY, S = FX, N = B);
* ``FY``/``FX`` with ``G`` above 1 and ``K``, ``C`` absent or 1: a depthwise CONV (C = G,
  K = 1);
* no filter dims, ``K`` and ``C``: a GEMM (M = the product of the other dims, N = K, K = C);
* pooling (which ZigZag writes as a product with a constant ``W``) and operators whose
  equation multiplies nothing (additions): no layer.

MAESTRO's Y/X are input sizes without padding, so ``Y = (OY - 1) * stride + FY``: output
size and MACs are ZigZag's. Grouped convolutions (``G`` with ``K``/``C``) and dilations are
refused with the file and operator named.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from costmodel import Layer, Network
from costmodel.errors import MaestroInputError
from costmodel.io.yaml_io import load_yaml_data

_RELATION = re.compile(r"^\s*i([xy])\s*=\s*(?:(\d+)\s*\*\s*)?o\1\s*\+\s*(?:(\d+)\s*\*\s*)?f\1\s*$")


def is_zigzag_workload(data: Any) -> bool:
    """Whether parsed YAML is (meant as) a ZigZag operator list."""
    return isinstance(data, list) and any(isinstance(x, dict) and "operator_type" in x
                                          for x in data)


def _sizes(op: dict, where: str, source: str) -> dict[str, int]:
    if "loop_dims" in op or "loop_sizes" in op:
        dims, sizes = op.get("loop_dims"), op.get("loop_sizes")
        if not (isinstance(dims, list) and isinstance(sizes, list) and len(dims) == len(sizes)):
            raise MaestroInputError(f"{where}: loop_dims and loop_sizes must be lists of one "
                                    "length", source=source, rule="zigzag-dims")
        table = dict(zip(dims, sizes, strict=True))
    else:
        table = op.get("loop_dim_size")
        if not isinstance(table, dict):
            raise MaestroInputError(f"{where}: no loop_dims/loop_sizes or loop_dim_size",
                                    source=source, rule="zigzag-dims")
    out = {}
    for k, v in table.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise MaestroInputError(f"{where}: loop size of {k} must be a positive integer, "
                                    f"got {v!r}", source=source, rule="zigzag-dims")
        out[str(k).upper()] = v
    return out


def _strides(op: dict, where: str, source: str) -> dict[str, int]:
    out = {"Y": 1, "X": 1}
    for rel in op.get("dimension_relations") or []:
        m = _RELATION.match(str(rel).lower())
        if not m:
            raise MaestroInputError(f"{where}: dimension relation {rel!r}: expected e.g. "
                                    "ix=2*ox+1*fx", source=source, rule="zigzag-relation")
        axis, stride, dilation = m.group(1).upper(), int(m.group(2) or 1), int(m.group(3) or 1)
        if dilation != 1:
            raise MaestroInputError(f"{where}: dilated convolutions are not modelled ({rel})",
                                    source=source, rule="zigzag-dilation")
        out[axis] = stride
    return out


def operator_layer(op: dict, index: int, source: str) -> Layer | None:
    """The layer of one ZigZag operator (None for one that multiplies nothing)."""
    ident = op.get("name") or f"L{op.get('id', index)}"
    where = f"operator {ident!r}"
    if "*" not in str(op.get("equation", "*")) or "pool" in str(op.get("operator_type")).lower():
        return None  # ZigZag writes pooling as a product with a constant W: no MACs to map
    d = _sizes(op, where, source)
    filt = "FY" in d or "FX" in d
    depthwise = d.get("G", 1) > 1 and d.get("K", 1) == 1 and d.get("C", 1) == 1
    if filt and d.get("G", 1) > 1 and not depthwise:
        raise MaestroInputError(f"{where}: grouped convolutions (G with K or C above 1) are "
                                "not read", source=source, rule="zigzag-grouped")
    if filt:
        st = _strides(op, where, source)
        r, s = d.get("FY", 1), d.get("FX", 1)
        dims = {"K": d.get("K", 1), "C": d.get("C", 1), "R": r, "S": s,
                "Y": (d.get("OY", 1) - 1) * st["Y"] + r, "X": (d.get("OX", 1) - 1) * st["X"] + s}
        if d.get("B", 1) != 1:
            dims = {"N": d["B"], **dims}
        if depthwise:
            dims["K"], dims["C"] = 1, d["G"]
        return Layer(str(ident), "DSCONV" if depthwise else "CONV", dims,
                     {a: v for a, v in st.items() if v != 1})
    if "K" in d and "C" in d and d.get("G", 1) == 1:
        m = 1
        for k, v in d.items():
            if k not in ("K", "C"):
                m *= v
        return Layer(str(ident), "GEMM", {"M": m, "N": d["K"], "K": d["C"]})
    raise MaestroInputError(f"{where}: dims {sorted(d)}: expected FY/FX with K and C (or G), "
                            "or K and C", source=source, rule="zigzag-dims")


def _python_workload(path: Path) -> list[dict]:
    """The ``workload`` dict literal of a ZigZag 2 / Stream Python file, not executed."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError as e:
        raise MaestroInputError(f"not UTF-8 text (byte {e.start}); expected a Python "
                                "workload file", source=str(path), rule="encoding") from None
    except SyntaxError as e:
        raise MaestroInputError(f"not valid Python: {e.msg}", source=str(path), line=e.lineno,
                                rule="zigzag-python") from None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "workload"):
            try:
                value = ast.literal_eval(node.value)
            except ValueError as e:
                raise MaestroInputError(f"line {node.lineno}: workload is not a literal ({e})",
                                        source=str(path), rule="zigzag-python") from None
            if isinstance(value, dict):
                return [dict(v, id=v.get("id", k)) for k, v in value.items()]
    raise MaestroInputError("no `workload = {...}` dict literal", source=str(path),
                            rule="zigzag-python")


def load_zigzag(path: str | Path) -> Network:
    """A ZigZag workload (YAML operator list or Python ``workload`` dict) as a network."""
    p = Path(path)
    ops = _python_workload(p) if p.suffix == ".py" else load_yaml_data(p)
    if not is_zigzag_workload(ops):
        raise MaestroInputError("expected a list of operators with operator_type",
                                source=str(p), rule="zigzag-workload")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise MaestroInputError(f"operator {i + 1}: expected a mapping with operator_type, "
                                    f"got {op!r}", source=str(p), rule="zigzag-workload")
    layers = [x for i, op in enumerate(ops) if (x := operator_layer(op, i, str(p))) is not None]
    if not layers:
        raise MaestroInputError("no operator that multiplies (Conv, Gemm, MatMul, ...)",
                                source=str(p), rule="empty-model")
    return Network(p.stem, layers)
