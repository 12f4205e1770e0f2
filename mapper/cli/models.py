"""``mapper models``: list and inspect the bundled model zoo; ``mapper import-onnx``.

``mapper models`` prints one row per bundled model (layers, total MACs with layer counts,
distinct layer shapes, layer types); ``mapper models --show NAME`` prints one model's
layers. ``NAME`` may also be a ``.yaml``/``.yml`` or MAESTRO ``.m`` file, or an LLM with
parameters (``llama3_8b:decode:context=4096:batch=8``, see :mod:`mapper.workloads.llm`).
``mapper models --presets`` lists the hardware presets.
``mapper import-onnx MODEL.onnx --out model.yaml`` converts an ONNX model's Conv, Gemm and
MatMul nodes into a network YAML file (see :mod:`mapper.workloads.onnx_import`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from costmodel.errors import MaestroInputError
from mapper.atomic import write_text


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models", help="list the bundled model zoo, or show one model's layers",
        description="List the bundled models (name, layers, total MACs, distinct layer "
        "shapes, layer types), or show the layers of one with --show. MACs are MAESTRO's "
        "(no padding: Y/X are unpadded input sizes) times each layer's count.")
    p.add_argument("--show", metavar="NAME",
                   help="print the layers of this model (a zoo name such as resnet50, an LLM "
                   "with parameters such as llama3_8b:prefill:prompt=2048:batch=4, or a "
                   ".yaml/.m file)")
    p.add_argument("--presets", action="store_true",
                   help="list the hardware presets (PEs, clock, DRAM GB/s and elements/cycle)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=run)

    q = sub.add_parser(
        "import-onnx", help="convert an ONNX model's Conv/Gemm/MatMul layers to network YAML",
        description="Read MODEL.onnx (shapes by ONNX shape inference) and write its "
        "convolutions and matrix products as layers in YAML. Padding becomes a padded input "
        "size (Y = (out-1)*stride + R); other operators are listed as skipped.")
    q.add_argument("model", help="ONNX model file")
    q.add_argument("--out", help="YAML file to write (default: standard output)")
    q.add_argument("--name", help="network name (default: the ONNX graph name)")
    q.add_argument("--dim", action="append", default=[], metavar="SYMBOL=VALUE",
                   help="value of a symbolic input dimension, e.g. --dim batch=8 "
                   "(repeatable; unset symbols are taken as 1)")
    q.add_argument("--fold-counts", action="store_true",
                   help="fold the instance count of batched matrix products (per-head "
                   "attention) into M, so the file has no 'count' fields")
    q.set_defaults(run=run_import)


# -- formatting helpers -----------------------------------------------------------------------
def _si(n: int) -> str:
    """Human-readable MAC count: 3.410 G, 297.6 M, ..."""
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.4g} {unit}"
    return str(n)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                      for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def _summary(net) -> dict:
    types = Counter(layer.type for layer in net.layers)
    return {"name": net.key or net.name, "network": net.name, "layers": len(net.layers),
            "instances": net.num_instances, "macs": net.total_macs,
            "distinct_shapes": len({layer.shape_key() for layer in net.layers}),
            "types": dict(sorted(types.items())), "source": net.source}


def _load(name: str):
    """A zoo model by name, or a network file (.yaml/.yml zoo or plain schema, .m)."""
    from mapper.workloads.zoo import ZooNetwork, load_model, load_model_file

    path = Path(name)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".m"):
        if suffix == ".m":
            from costmodel.io import load_mapping

            net = load_mapping(path)
            return ZooNetwork(net.name, net.layers, source=str(path))
        from costmodel.io.yaml_io import read_yaml_text

        read_yaml_text(path)  # a file that is not UTF-8: a clear error naming it
        return load_model_file(path)
    return load_model(name)


def _dims_text(layer) -> str:
    return " ".join(f"{d}={int(v)}" for d, v in layer.dims.items())


def _stride_text(layer) -> str:
    if not layer.is_conv_family:
        return ""
    sx, sy = layer.stride("X"), layer.stride("Y")
    return "" if sx == sy == 1 else f"{sx}x{sy}"


# -- mapper models ----------------------------------------------------------------------------
def run(args) -> int:
    from mapper.workloads.llm import PARAM_HELP
    from mapper.workloads.zoo import list_models, load_model

    if args.presets:
        from mapper.workloads.presets import format_presets

        sys.stdout.write(format_presets())
        return 0
    if args.show:
        net = _load(args.show)
        if args.format == "json":
            data = _summary(net)
            data["layers_detail"] = [
                {"name": layer.name, "type": layer.type, "dims": dict(layer.dims),
                 "strides": {d: int(s) for d, s in layer.strides.items() if int(s) != 1},
                 "count": net.count(layer), "macs": layer.macs} for layer in net.layers]
            sys.stdout.write(json.dumps(data, indent=1) + "\n")
            return 0
        s = _summary(net)
        out = [f"{net.name}" + (f" ({net.key})" if net.key else "")
               + f": {s['layers']} layers"
               + (f" ({s['instances']} instances)" if s["instances"] != s["layers"] else "")
               + f", {s['macs']:,} MACs ({_si(s['macs'])}), {s['distinct_shapes']} distinct "
               "shapes"]
        if net.source:
            out.append(f"source: {net.source}")
        rows = [["#", "layer", "type", "dims", "stride", "MACs", "count", "MACs x count"]]
        for i, layer in enumerate(net.layers, start=1):
            n = net.count(layer)
            rows.append([str(i), layer.name, layer.type, _dims_text(layer), _stride_text(layer),
                         f"{layer.macs:,}", str(n), f"{layer.macs * n:,}"])
        out += _table(rows, right={0, 5, 6, 7})
        sys.stdout.write("\n".join(out) + "\n")
        return 0

    summaries = [_summary(load_model(key)) for key in list_models()]
    if args.format == "json":
        sys.stdout.write(json.dumps(summaries, indent=1) + "\n")
        return 0
    rows = [["name", "network", "layers", "MACs", "shapes", "types"]]
    for s in summaries:
        layers = str(s["layers"]) + (f" ({s['instances']})" if s["instances"] != s["layers"]
                                     else "")
        rows.append([s["name"], s["network"], layers, _si(s["macs"]),
                     str(s["distinct_shapes"]),
                     " ".join(f"{t}:{n}" for t, n in s["types"].items())])
    out = _table(rows, right={2, 3, 4})
    out.append(f"{len(summaries)} models. MACs: sum of layer MACs x count, MAESTRO convention "
               "(unpadded Y/X). Layers in parentheses: instances with counts. "
               "Details: mapper models --show NAME")
    out.append(PARAM_HELP + ". Hardware presets: mapper models --presets")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


# -- mapper import-onnx -----------------------------------------------------------------------
def _parse_dims(items: list[str]) -> dict[str, int]:
    dims = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip().isdigit() or int(value) < 1:
            raise MaestroInputError(f"--dim {item!r}: expected SYMBOL=POSITIVE_INTEGER",
                                    rule="usage")
        dims[key.strip()] = int(value)
    return dims


def run_import(args) -> int:
    from mapper.cli._output import check_out_file
    from mapper.workloads.onnx_import import convert_onnx
    from mapper.workloads.zoo import format_model_yaml

    if args.out:
        check_out_file(args.out)
    result = convert_onnx(args.model, dims=_parse_dims(args.dim), name=args.name,
                          fold_counts=args.fold_counts)
    net = result.network
    if not net.layers:
        raise MaestroInputError("the model has no Conv, Gemm or MatMul node that could be "
                                "imported" + (f"; skipped: {', '.join(result.skipped)}"
                                              if result.skipped else ""),
                                source=args.model, rule="empty-model")
    header = [net.source, f"{len(net.layers)} layers, {net.total_macs:,} MACs"]
    if result.skipped:
        header.append(f"skipped {len(result.skipped)} node(s): " + ", ".join(result.skipped))
    header += [f"note: {n}" for n in result.notes]
    if net.counts:
        header.append("'count' = identical independent instances (per-head products); "
                      "read with mapper.workloads.zoo.load_model_file, or re-import with "
                      "--fold-counts")
    # Provenance goes into comments, so a file without counts is plain network YAML.
    text = format_model_yaml(net, source="", header=header)
    if args.out:
        write_text(Path(args.out), text)
    else:
        sys.stdout.write(text)
    err = sys.stderr
    print(f"mapper import-onnx: {len(net.layers)} layers ({_si(net.total_macs)} MACs)"
          + (f" written to {args.out}" if args.out else ""), file=err)
    if result.skipped:
        kinds = Counter(s.split(" ", 1)[0] for s in result.skipped)
        print("  skipped: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())), file=err)
    for n in result.notes:
        print(f"  note: {n}", file=err)
    return 0
