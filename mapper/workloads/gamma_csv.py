"""Layer tables in the CSV form of the GAMMA mapper (and of MAGMA's job rows).

A GAMMA model file has a header line and one row per layer: six dimensions and a type ``T``,
``0`` = fully connected (outputs, inputs), ``1`` = CONV (K, C, Y, X, R, S), ``2`` = depthwise
CONV (the same columns, ``K = 1`` declared) and ``3`` = GEMM (M, N, K). FC and GEMM layers
become CONV layers with unit filters (GEMM: K = N, C = K, Y = M), which is how GAMMA and
MAGMA give them to MAESTRO, so tuned results compare with theirs layer for layer. The files
record no strides: every layer has stride 1, as GAMMA runs it. ``Y``/``X`` are input sizes
(MAESTRO's convention). Layers are named ``L1``, ``L2``, ... by row, GAMMA's
``--singlelayer`` numbering.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from costmodel import Layer, Network
from costmodel.errors import MaestroInputError

TYPE_NAMES = {0: "FC", 1: "CONV", 2: "DSCONV", 3: "GEMM"}


def conv_dims(kind: str, d: list[int]) -> dict[str, int]:
    """MAESTRO dimensions (K, C, Y, X, R, S) of a row's six columns of type ``kind``."""
    if kind == "GEMM":
        m, n, k = d[0], d[1], d[2]
        return {"K": n, "C": k, "Y": m, "X": 1, "R": 1, "S": 1}
    if kind == "FC":
        return {"K": d[0], "C": d[1], "Y": 1, "X": 1, "R": 1, "S": 1}
    return dict(zip(("K", "C", "Y", "X", "R", "S"), d, strict=True))


def int_cell(text: str, column: int, where: dict, names: tuple[str, ...] = (),
             rule: str = "csv-value") -> int:
    """One integer cell; ``64.0`` is accepted, ``64.5`` and ``abc`` are not. ``names``:
    the columns' names, for the message."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or not v.is_integer():
        what = "not an integer" if v is not None else "not a number"
        label = f" ({names[column]})" if column < len(names) else ""
        raise MaestroInputError(f"column {column + 1}{label}: {text!r} is {what}",
                                rule=rule, **where)
    return int(v)


def row_layer(name: str, dims6: list[int], type_code: int, where: dict,
              type_rule: str = "csv-type", noun: str = "layer") -> tuple[str, Layer]:
    """``(kind, layer)`` of one row (kind: FC, CONV, DSCONV or GEMM), checked; ``noun``
    names a row in messages (a layer, or a job of an instance file)."""
    if type_code not in TYPE_NAMES:
        raise MaestroInputError(f"unknown {noun} type {type_code} (expected 0 FC, 1 CONV, "
                                "2 DSCONV, 3 GEMM)", rule=type_rule, **where)
    kind = TYPE_NAMES[type_code]
    dims = conv_dims(kind, dims6)
    if min(dims.values()) <= 0:
        raise MaestroInputError(f"dimensions must be positive, got {dims6}",
                                rule="positive-size", **where)
    if dims["R"] > dims["Y"] or dims["S"] > dims["X"]:
        raise MaestroInputError(f"filter {dims['R']}x{dims['S']} larger than input "
                                f"{dims['Y']}x{dims['X']}", rule="filter-size", **where)
    return kind, Layer(name, "DSCONV" if kind == "DSCONV" else "CONV", dims)


def parse_gamma_csv(text: str, source: str = "<string>", name: str = "model") -> Network:
    """A GAMMA model table (header line, then ``d1..d6,T`` per layer) as a network."""
    rows = [(i + 1, [x.strip() for x in r]) for i, r in enumerate(csv.reader(io.StringIO(text)))
            if r and any(x.strip() for x in r)]
    if not rows:
        raise MaestroInputError("empty file; expected a header such as K,C,Y,X,R,S,T and one "
                                "row per layer", source=source, rule="csv-empty")
    (hline, header), body = rows[0], rows[1:]
    if len(header) != 7 or header[-1].upper() != "T":
        raise MaestroInputError(f"header {','.join(header)!r}: expected 7 columns ending in T, "
                                "e.g. K,C,Y,X,R,S,T or M,N,K,0,0,0,T", source=source, line=hline,
                                rule="csv-header")
    if not body:
        raise MaestroInputError("no layers after the header", source=source, rule="csv-empty")
    layers = []
    for k, (line, row) in enumerate(body, start=1):
        where = dict(source=source, line=line)
        if len(row) != 7:
            raise MaestroInputError(f"expected 7 columns (6 dimensions and T), got {len(row)}",
                                    rule="csv-columns", **where)
        vals = [int_cell(x, j, where, tuple(header)) for j, x in enumerate(row)]
        layers.append(row_layer(f"L{k}", vals[:6], vals[6], where)[1])
    return Network(name, layers)


def load_gamma_csv(path: str | Path) -> Network:
    """Read a GAMMA model CSV; the network is named after the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MaestroInputError(f"not UTF-8 text (byte {e.start}); expected a CSV table",
                                source=str(path), rule="encoding") from None
    return parse_gamma_csv(text, str(path), p.stem)
