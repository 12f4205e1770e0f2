"""Import the MAC layers of an ONNX model as a network for the cost model.

>>> from mapper.workloads.onnx_import import import_onnx            # doctest: +SKIP
>>> network, skipped = import_onnx("resnet50.onnx")      # doctest: +SKIP

Needs the optional ``onnx`` package (``pip install 'dnn-mapper[onnx]'``). Shapes come from
``onnx.shape_inference.infer_shapes``, so the model needs no weights at run time and any
framework that writes ONNX works.

Exporting to ONNX
-----------------
PyTorch (``torch.onnx.export``)::

    import torch, torchvision
    model = torchvision.models.resnet50().eval()
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), "resnet50.onnx", opset_version=17)

Keras / TensorFlow (``tf2onnx``, ``pip install tf2onnx``)::

    import tensorflow as tf, tf2onnx
    spec = (tf.TensorSpec((1, 224, 224, 3), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17,
                               output_path="model.onnx")
    # or, for a SavedModel directory:
    #   python -m tf2onnx.convert --saved-model DIR --output model.onnx --opset 17

Hugging Face transformers: ``optimum-cli export onnx --model bert-base-uncased out_dir/``.
Export with fixed input shapes (batch, image size, sequence length) when you can: a
symbolic dimension (e.g. ``batch``) that is not given in ``dims=`` is taken as 1, with a
note. Keras models are NHWC; tf2onnx adds ``Transpose`` nodes around the convolutions,
which show up in the skipped list.

What becomes a layer
--------------------
* ``Conv`` (and ``ConvInteger``, ``QLinearConv``), 1-D or 2-D, without dilation:

  * ``group == 1``: ``CONV`` with ``K`` output channels and ``C`` input channels;
  * ``group == C_in == C_out``: depthwise, ``DSCONV`` with ``K: 1`` (MAESTRO's convention);
  * any other group count: ``NGCONV`` with ``G`` groups and the *per-group* channel counts
    ``K = C_out / G`` and ``C = C_in / G``, so that ``Layer.macs`` is exact;
  * the batch becomes ``N`` when it is larger than 1; 1-D convolutions get ``R = Y = 1``.
  * **Padding**: MAESTRO has no padding. The layer declares the *padded* input size
    ``Y = (Y_out - 1) * stride + R`` (likewise ``X``), so its output size, and hence its
    MAC count, equal the real layer's. (The bundled zoo keeps MAESTRO's own convention of
    unpadded input sizes instead; see :mod:`mapper.workloads.zoo`.)

* ``Gemm`` (``transA``/``transB`` honoured, bias ignored) and ``MatMul`` (also
  ``MatMulInteger``, ``QLinearMatMul``) become ``GEMM`` layers, ``M x K`` times ``K x N``.
  Leading batch dimensions of a ``MatMul``:

  * only the left operand batched (e.g. activations ``[B, S, K]`` times a weight ``[K, N]``):
    folded into ``M`` (``M = B * S``) -- exact, the weight is shared;
  * only the right operand batched: folded into ``N`` -- exact, the left operand is shared;
  * both batched (e.g. per-head attention ``[B, H, S, D] x [B, H, D, S]``): one GEMM of
    the per-instance shape with a **count** of ``B * H`` independent instances, kept in
    :attr:`mapper.workloads.zoo.ZooNetwork.counts` (and written as ``count:`` in YAML). With
    ``fold_counts=True`` the count is folded into ``M`` instead (exact MACs, but the
    instances then appear to share their right operand).

* Every other node (activations, ``Add``, pooling, ``Reshape``, ``Softmax``, ...) and any
  of the above that cannot be expressed (dilation, 3-D, unknown shapes) is returned in the
  *skipped* list as ``"<op_type> <node name>"``, with the reason in parentheses where the
  operator itself is supported. Nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from os import PathLike
from pathlib import Path
from typing import Any

from costmodel.errors import MaestroInputError
from costmodel.layer import Layer, Network
from mapper.workloads.zoo import ZooNetwork

__all__ = ["OnnxImport", "import_onnx", "convert_onnx", "CONV_OPS", "GEMM_OPS"]

#: op_type -> (index of the data input, index of the weight input)
CONV_OPS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
#: op_type -> (index of the left operand, index of the right operand)
GEMM_OPS = {"Gemm": (0, 1), "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}


@dataclass
class OnnxImport:
    """Result of :func:`convert_onnx`.

    ``network`` holds the layers (with ``counts`` for batched matrix products),
    ``skipped`` the nodes that did not become layers, ``notes`` assumptions made on the
    way (symbolic dimensions, failed shape inference).
    """

    network: ZooNetwork
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Skip(Exception):
    """A supported node that cannot be expressed; the message is the reason."""


def _require_onnx():
    try:
        import onnx
    except ModuleNotFoundError as e:
        if e.name != "onnx":
            raise
        raise MaestroInputError(
            "ONNX import needs the 'onnx' package: pip install 'dnn-mapper[onnx]' "
            "(or pip install onnx)", rule="missing-dependency") from None
    return onnx


def import_onnx(path: str | PathLike | Any, *, dims: dict[str, int] | None = None,
                name: str | None = None) -> tuple[Network, list[str]]:
    """Layers of an ONNX model and the list of skipped nodes (``"op_type name"``).

    ``path`` is a ``.onnx`` file or an ``onnx.ModelProto``. The returned network is a
    :class:`mapper.workloads.zoo.ZooNetwork`: its ``counts`` hold the instance counts of batched
    matrix products (see the module docstring). ``dims`` gives values to symbolic
    dimensions (e.g. ``{"batch": 8}``); ``name`` overrides the network name.
    """
    result = convert_onnx(path, dims=dims, name=name)
    return result.network, result.skipped


def convert_onnx(path: str | PathLike | Any, *, dims: dict[str, int] | None = None,
                 name: str | None = None, fold_counts: bool = False) -> OnnxImport:
    """Like :func:`import_onnx`, returning an :class:`OnnxImport` with notes as well.

    ``fold_counts=True`` folds the instance count of a batched product into its ``M``.
    """
    onnx = _require_onnx()
    if isinstance(path, (str, PathLike)):
        source = str(path)
        try:
            model = onnx.load(source, load_external_data=False)
        except FileNotFoundError:
            raise
        except Exception as exc:  # protobuf decode errors and the like
            raise MaestroInputError(f"cannot read ONNX model: {exc}", source=source,
                                    rule="onnx") from None
        default_name = Path(source).stem
    else:
        model, source, default_name = path, "<ModelProto>", "onnx_model"
    notes: list[str] = []
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:
        notes.append(f"shape inference failed ({exc}); using the shapes stored in the model")
        inferred = model
    graph = inferred.graph
    shapes = _collect_shapes(graph, dict(dims or {}), notes)

    layers: list[Layer] = []
    counts: dict[str, int] = {}
    skipped: list[str] = []
    used: set[str] = set()
    for i, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{i}"
        if node.op_type not in CONV_OPS and node.op_type not in GEMM_OPS:
            skipped.append(f"{node.op_type} {label}")
            continue
        lname = label
        k = 2
        while lname in used:
            lname, k = f"{label}_{k}", k + 1
        try:
            if node.op_type in CONV_OPS:
                layer, n = _conv_layer(onnx, node, lname, shapes), 1
            else:
                layer, n = _gemm_layer(onnx, node, lname, shapes)
        except _Skip as why:
            skipped.append(f"{node.op_type} {label} ({why})")
            continue
        if n != 1 and fold_counts:
            layer.dims["M"] *= n
            n = 1
        used.add(lname)
        layers.append(layer)
        if n != 1:
            counts[lname] = n
    net_name = name or graph.name or default_name
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    provenance = (f"imported from ONNX {Path(source).name}"
                  + (f" (producer {producer}; opset {opsets})" if producer else
                     f" (opset {opsets})")
                  + "; Y/X = padded input size, so output sizes and MACs are exact")
    network = ZooNetwork(net_name, layers, counts=counts, source=provenance)
    return OnnxImport(network, skipped, notes)


# -- shapes -----------------------------------------------------------------------------------
def _collect_shapes(graph, dims: dict[str, int], notes: list[str]) -> dict[str, list]:
    """Tensor name -> list of ints (None for an unknown dimension)."""
    shapes: dict[str, list] = {}
    defaulted: set[str] = set()

    def dim_value(d) -> int | None:
        if d.HasField("dim_value"):
            return int(d.dim_value)
        if d.HasField("dim_param"):
            p = d.dim_param
            if p in dims:
                return int(dims[p])
            if p not in defaulted:
                defaulted.add(p)
                notes.append(f"symbolic dimension {p!r} taken as 1 (give it a value with "
                             f"dims={{{p!r}: N}} or --dim {p}=N)")
            return 1
        return None

    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [dim_value(d) for d in t.shape.dim]
    for init in graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    for node in graph.node:  # Constant nodes holding tensors (weights in some exports)
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.HasField("t"):
                    shapes[node.output[0]] = [int(d) for d in a.t.dims]
    unused = sorted(set(dims) - defaulted - _declared_params(graph))
    if unused:
        notes.append(f"dims given but not used by the model: {', '.join(unused)}")
    return shapes


def _declared_params(graph) -> set[str]:
    params = set()
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            params.update(d.dim_param for d in t.shape.dim if d.HasField("dim_param"))
    return params


def _shape(shapes: dict[str, list], node, index: int, what: str) -> list[int]:
    if index >= len(node.input) or not node.input[index]:
        raise _Skip(f"no {what} input")
    shape = shapes.get(node.input[index])
    if shape is None or any(d is None for d in shape):
        raise _Skip(f"shape of {what} {node.input[index]!r} unknown")
    return shape


def _attrs(onnx, node) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# -- layers -----------------------------------------------------------------------------------
def _conv_layer(onnx, node, lname: str, shapes: dict[str, list]) -> Layer:
    xi, wi = CONV_OPS[node.op_type]
    x = _shape(shapes, node, xi, "input")
    w = _shape(shapes, node, wi, "weight")
    nsp = len(x) - 2
    if nsp not in (1, 2) or len(w) != len(x):
        raise _Skip(f"{nsp}-D convolution not supported (1-D and 2-D only)")
    a = _attrs(onnx, node)
    kernel = [int(k) for k in (a.get("kernel_shape") or w[2:])]
    strides = [int(s) for s in (a.get("strides") or [1] * nsp)]
    dil = [int(d) for d in (a.get("dilations") or [1] * nsp)]
    if any(d != 1 for d in dil):
        raise _Skip(f"dilations {tuple(dil)} not supported")
    group = int(a.get("group", 1))
    out = shapes.get(node.output[0]) if node.output else None
    if out is not None and len(out) == len(x) and all(d is not None for d in out[2:]):
        osp = [int(d) for d in out[2:]]
    else:
        osp = _conv_out(x[2:], kernel, strides, a)
    if any(o < 1 for o in osp):
        raise _Skip(f"empty output {tuple(osp)}")
    if nsp == 1:  # a 1-D convolution is a 2-D one with a single row
        kernel, strides, osp = [1] + kernel, [1] + strides, [1] + osp
    r, s = kernel
    y = (osp[0] - 1) * strides[0] + r
    xx = (osp[1] - 1) * strides[1] + s
    n, cin, cout = int(x[0]), int(x[1]), int(w[0])
    if group < 1 or cin % group or cout % group:
        raise _Skip(f"group {group} does not divide {cin} input / {cout} output channels")
    dims: dict[str, int] = {"N": n} if n > 1 else {}
    if group == 1:
        ltype = "CONV"
        dims.update(K=cout, C=cin)
    elif group == cin == cout:
        ltype = "DSCONV"
        dims.update(K=1, C=cin)
    else:
        ltype = "NGCONV"
        dims.update(G=group, K=cout // group, C=cin // group)
    dims.update(R=r, S=s, Y=y, X=xx)
    st = {k: v for k, v in (("X", strides[1]), ("Y", strides[0])) if v != 1}
    return Layer(lname, ltype, dims, st)


def _conv_out(insp: list[int], kernel: list[int], strides: list[int], a: dict) -> list[int]:
    """Output spatial sizes from ONNX's padding attributes (used without inferred shapes)."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    n = len(insp)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return [-(-int(i) // s) for i, s in zip(insp, strides)]
    pads = [int(p) for p in (a.get("pads") or [0] * (2 * n))] if auto == "NOTSET" else [0] * 2 * n
    return [(int(insp[i]) + pads[i] + pads[i + n] - kernel[i]) // strides[i] + 1
            for i in range(n)]


def _gemm_layer(onnx, node, lname: str, shapes: dict[str, list]) -> tuple[Layer, int]:
    ai, bi = GEMM_OPS[node.op_type]
    a = list(_shape(shapes, node, ai, "A"))
    b = list(_shape(shapes, node, bi, "B"))
    count = 1
    if node.op_type == "Gemm":
        if len(a) != 2 or len(b) != 2:
            raise _Skip("Gemm operands must be 2-D")
        at = _attrs(onnx, node)
        m, k = (a[1], a[0]) if at.get("transA", 0) else (a[0], a[1])
        k2, n = (b[1], b[0]) if at.get("transB", 0) else (b[0], b[1])
    else:
        if not a or not b:
            raise _Skip("scalar operand")
        if len(a) == 1:
            a = [1] + a
        if len(b) == 1:
            b = b + [1]
        m, k = a[-2:]
        k2, n = b[-2:]
        pa, pb = prod(a[:-2]), prod(b[:-2])
        if pb == 1:
            m *= pa  # right operand shared: the batch stacks rows of the left one
        elif pa == 1:
            n *= pb  # left operand shared: the batch concatenates columns of the right one
        else:
            count = prod(_broadcast(a[:-2], b[:-2]))
    if k != k2:
        raise _Skip(f"inner dimensions differ ({k} vs {k2})")
    if min(m, n, k) < 1:
        raise _Skip(f"empty product {m}x{k} times {k2}x{n}")
    return Layer(lname, "GEMM", {"M": int(m), "N": int(n), "K": int(k)}), int(count)


def _broadcast(a: list[int], b: list[int]) -> list[int]:
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise _Skip(f"batch dimensions {tuple(a)} and {tuple(b)} do not broadcast")
        out.append(max(x, y))
    return out
