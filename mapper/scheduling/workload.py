"""Jobs to schedule: one DNN layer each, from MAGMA-style instance CSVs or our model zoo.

A MAGMA instance CSV has one row per job: ``network, layer, d1..d6, type`` where type is
0 = fully connected (d1 = outputs, d2 = inputs), 1 = CONV (K, C, Y, X, R, S),
2 = depthwise CONV (same columns) and 3 = GEMM (d1..d3 = M, N, K). FC and GEMM run as
CONV layers with unit filters (GEMM: K = N, C = K, Y = M), which is how MAGMA feeds them
to MAESTRO, so the same dataflow templates apply to every job.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from costmodel import Layer
from costmodel.errors import MaestroInputError
from mapper.workloads.gamma_csv import conv_dims, int_cell, row_layer


@dataclass(frozen=True)
class Job:
    """One layer to run on one core. ``layer`` is what the cost model sees."""

    name: str
    network: str
    layer_index: int
    kind: str  #: FC, CONV, DSCONV or GEMM (the workload's own type)
    layer: Layer
    source: str = ""  #: file (and line) the job came from, for error messages


COLUMNS = ("network", "layer", "d1", "d2", "d3", "d4", "d5", "d6", "type")


def _row_job(path: str, line: int, row: list[str]) -> Job:
    where = dict(source=path, line=line)
    if len(row) != 9:
        raise MaestroInputError(f"expected 9 columns (network, layer, 6 dimensions, type), got "
                                f"{len(row)}", rule="instance-columns", **where)
    vals = [int_cell(x, k, where, COLUMNS, "instance-value") for k, x in enumerate(row)]
    net = f"net{vals[0]}"
    # MAGMA's files repeat (network, layer) pairs (batch_mix: all 100 rows are 1,1), so the
    # file's line makes the name unique and traceable to its row
    name = f"{net}/L{vals[1]}/row{line}"
    kind, layer = row_layer(name, vals[2:8], vals[8], where, "instance-type", "job")
    return Job(name, net, vals[1], kind, layer, f"{path}:{line}")


def load_instance_csv(path: str | Path) -> list[Job]:
    """Read a MAGMA instance CSV (no header); errors name the file and line."""
    path = str(path)
    with open(path, newline="") as f:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(f)) if r and any(x.strip() for x in r)]
    if not rows:
        raise MaestroInputError("no jobs in instance file", source=path, rule="instance-empty")
    return [_row_job(path, line, [x.strip() for x in r]) for line, r in rows]


def _layer_job(model: str, copy: int, index: int, layer: Layer, name: str) -> Job:
    """A zoo layer as a job: GEMM becomes a unit-filter CONV, like MAGMA's GEMM jobs."""
    net = f"{model}#{copy}"
    if layer.type == "GEMM":
        d = layer.full_dims()
        conv = Layer(name, "CONV", conv_dims("GEMM", [d["M"], d["N"], d["K"]]))
        return Job(name, net, index, "GEMM", conv, f"model {model}")
    if layer.type not in ("CONV", "DSCONV", "TRCONV"):
        raise MaestroInputError(f"{model}: layer {layer.name!r} of type {layer.type} cannot be "
                                "scheduled (CONV, DSCONV, TRCONV and GEMM can)",
                                rule="layer-type")
    kind = "DSCONV" if layer.type == "DSCONV" else "CONV"
    dims = {k: v for k, v in layer.dims.items() if k != "N"}
    conv = Layer(name, kind, dims, strides=dict(layer.strides))
    return Job(name, net, index, kind, conv, f"model {model}")


def parse_model_mix(spec: str) -> list[tuple[str, int]]:
    """``"resnet50:2,bert"`` -> ``[("resnet50", 2), ("bert", 1)]``.

    Only a trailing ``:INTEGER`` is a count, so LLM names with parameters pass through:
    ``"llama3_8b:decode:context=4096:2"`` -> ``[("llama3_8b:decode:context=4096", 2)]``.
    """
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, count = part.rpartition(":")
        if not name or not count.strip().lstrip("+-").isdigit():
            name, count = part, ""
        try:
            n = int(count) if count else 1
        except ValueError:
            raise MaestroInputError(f"bad count in {part!r} (expected MODEL[:COUNT])",
                                    rule="workload") from None
        if n <= 0:
            raise MaestroInputError(f"count of {name} must be positive, got {n}",
                                    rule="workload")
        out.append((name, n))
    if not out:
        raise MaestroInputError(f"empty workload {spec!r}", rule="workload")
    return out


def load_models(spec: str) -> list[Job]:
    """Jobs of a mix of models (bundled names or .m/.yaml files) with a count per model,
    every layer instance a job.

    Job names are ``MODEL#COPY/LAYER`` (MODEL: a model file's stem); a layer that occurs
    more than once in a model (a count, or a repeated name) gets ``[i]``, its occurrence,
    so that every name is unique.
    """
    from mapper.workloads.presets import resolve_model  # names, LLM parameters, model files

    todo: list[tuple[str, int, int, Layer, str]] = []
    for name, n in parse_model_mix(spec):
        net = resolve_model(name)
        count = getattr(net, "count", lambda layer: 1)  # .m files have no layer counts
        label = (Path(name).stem if Path(name).suffix.lower() in MODEL_SUFFIXES + (".csv",)
                 else name)
        for copy in range(n):
            k = 0
            for layer in net.layers:
                for _ in range(count(layer)):
                    todo.append((label, copy, k, layer, f"{label}#{copy}/{layer.name}"))
                    k += 1
    total: dict[str, int] = {}
    for *_, base in todo:
        total[base] = total.get(base, 0) + 1
    seen: dict[str, int] = {}
    jobs: list[Job] = []
    for name, copy, k, layer, base in todo:
        i = seen[base] = seen.get(base, -1) + 1
        jobs.append(_layer_job(name, copy, k, layer, base if total[base] == 1 else f"{base}[{i}]"))
    return jobs


MODEL_SUFFIXES = (".m", ".yaml", ".yml", ".onnx", ".py")  # model files (not instance CSVs)


def load_workload(spec: str) -> list[Job]:
    """An instance CSV path, or a model mix such as ``resnet50:2,mobilenetv2`` whose entries
    may also be model files (``my_net.yaml:3``)."""
    if Path(spec).suffix.lower() in MODEL_SUFFIXES:
        return load_models(spec)
    if spec.endswith(".csv") and _is_model_table(spec):
        return load_models(spec)  # a GAMMA model table (header, 7 columns), one copy
    if spec.endswith(".csv") or Path(spec).is_file():
        return load_instance_csv(spec)
    return load_models(spec)


def _is_model_table(path: str) -> bool:
    """Whether a CSV starts with a GAMMA model table's header (7 columns, the last ``T``)
    rather than a MAGMA instance row (9 integers)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            first = next((r for r in csv.reader(f) if r and any(x.strip() for x in r)), [])
    except (OSError, UnicodeDecodeError):
        return False  # the instance reader reports it
    return len(first) == 7 and first[-1].strip().upper() == "T"
