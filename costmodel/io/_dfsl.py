"""Parser for MAESTRO mapping/model files (``.m``, spec section 1.2).

It follows MAESTRO's grammar and parse-time checks, adds the checks MAESTRO only makes
during analysis (or never), and reports each violation as a :class:`MaestroInputError`
carrying the file name, the 1-based line and a short rule name.

Deliberate differences from MAESTRO (all documented in :func:`parse_mapping`):

* a layer without (or with an empty) ``Dataflow`` block gets a *copy* of the previous
  layer's dataflow; MAESTRO shares the directive list, so its in-place rewrites leak
  between layers (spec section 7, item 13);
* a layer keeps the name written after ``Layer`` even when ``Type`` comes after
  ``Dimensions`` (MAESTRO then names it after the last dimension token);
* ``FC`` layers are accepted and become 1x1 CONV layers; MAESTRO creates no layer;
* ``Layer`` blocks outside a ``Network`` are accepted (MAESTRO ignores them);
* other unknown top-level tokens are errors, except hardware keys with their values,
  which MAESTRO (and we) ignore in a mapping file;
* CRLF line endings are accepted (see :mod:`._lexer`).

Line numbers are the file's real 1-based lines. MAESTRO's own messages count every comment
line twice, so its numbers are larger by the number of ``//`` lines above the error.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ..dataflow import MAX_CLUSTERS, Cluster, Dataflow, Directive, SpatialMap, TemporalMap
from ..errors import MaestroInputError
from ..layer import CONV_FAMILY, Layer, Network
from ._lexer import INT_MAX, Token, is_int, negative_number, tokenize
from .validate import ALLOWED_DIMS, mappable_dims, validate_dataflow

LAYER_KEYWORDS = ("Type", "Stride", "Dimensions", "Dataflow", "Density")
DIRECTIVES = ("TemporalMap", "SpatialMap", "Cluster")
KEYWORDS = frozenset(("Network", "Layer", "Constant", "Accelerator", "{", "}", "Sz")
                     + LAYER_KEYWORDS + DIRECTIVES)
SUPPORTED_TYPES = ("CONV", "DSCONV", "NGCONV", "GEMM", "TRCONV", "FC")
UNSUPPORTED_TYPES = ("POOL", "LSTM", "RESIDUAL_IDENTITY")
#: Hardware-file keys, ignored (with their value) at the top level of a mapping file.
HW_FILE_KEYS = ("num_pes", "l1_size_cstr", "l2_size_cstr", "noc_bw_cstr", "offchip_bw_cstr",
                "NoC_NumHops", "num_simd_lanes")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass
class _LayerState:
    """What has been read of one ``Layer { ... }`` block so far."""

    name: str
    line: int
    type: str | None = None
    strides: dict[str, int] = field(default_factory=dict)
    stride_line: int | None = None
    dims: dict[str, int] = field(default_factory=dict)
    dim_lines: dict[str, int] = field(default_factory=dict)
    dims_line: int | None = None
    directives: list[tuple[Directive, int]] = field(default_factory=list)
    dataflow_line: int | None = None
    l2_resident: tuple[int, int] | None = None  # (value, line) of an L2Resident statement
    density: dict[str, str] = field(default_factory=dict)  # extension: tensor -> density
    n_checked: int = 0  # directives already checked against type and dims
    dataflow_error: MaestroInputError | None = None  # first rule its dataflow breaks (lenient)

    @property
    def ready(self) -> bool:
        """Type and Dimensions are known, so directives can be checked as they are read."""
        return self.type is not None and self.dims_line is not None


def directive_dim_error(layer_type: str, dims: dict[str, int],
                        d: Directive) -> tuple[str, str] | None:
    """``(message, rule)`` if directive ``d`` names a dim unknown or undeclared for the layer."""
    if isinstance(d, Cluster):
        return None
    allowed = ALLOWED_DIMS[layer_type]
    if d.dim not in allowed:
        hint = " (only ASCII ' is allowed in Y'/X')" if not d.dim.isascii() else ""
        return (f"{d}: {d.dim!r} is not a {layer_type} dimension{hint}; "
                f"expected one of {' '.join(allowed)}", "unknown-dimension")
    if d.dim not in mappable_dims(layer_type, dims):
        return (f"{d}: dimension {d.dim} is not declared in this layer "
                f"(declared: {' '.join(dims)})", "undeclared-dimension")
    if isinstance(d, TemporalMap) and d.dim in ("R", "S") and layer_type != "GEMM":
        if d.size != d.offset:
            return (f"{d}: a TemporalMap on {d.dim} must have tile size ({d.size}) equal to "
                    f"its tile offset ({d.offset})", "rs-temporal-map")
        if d.dim in dims and d.size != dims[d.dim]:
            return (f"{d}: a TemporalMap on {d.dim} must have tile size ({d.size}) equal to "
                    f"the dimension size of {d.dim} ({dims[d.dim]})", "rs-temporal-map")
    return None


class MappingParser:
    """Recursive-descent parser over the token list of one mapping file."""

    def __init__(self, text: str, source: str = "<string>", drop_bad_dataflows: bool = False):
        self.source = source
        # a dataflow that breaks a rule is dropped (its layer kept, unmapped) and its error
        # recorded in ``dropped``, instead of raised: for reading a file's layers to tune them
        self.drop_bad_dataflows = drop_bad_dataflows
        self.dropped: list[tuple[str, MaestroInputError]] = []
        self.toks = tokenize(text)
        self.pos = 0
        self.constants: dict[str, int] = {}
        self.blocks: list[tuple[str, int]] = []  # open blocks, for end-of-file messages
        self.layers: list[Layer] = []
        self.net_name: str | None = None
        self.prev: tuple[str, Dataflow] | None = None  # (layer name, dataflow) to inherit
        self.saw_hw_key = False

    # -- token helpers -------------------------------------------------------------------
    def error(self, message: str, line: int | None, rule: str) -> MaestroInputError:
        return MaestroInputError(message, source=self.source, line=line, rule=rule)

    def next(self, expected: str) -> Token:
        if self.pos >= len(self.toks):
            last = self.toks[-1].line if self.toks else 1
            if self.blocks:
                what, line = self.blocks[-1]
                raise self.error(f"end of file inside {what} opened at line {line} "
                                 f"(missing '}}'); expected {expected}", line, "unbalanced-braces")
            raise self.error(f"unexpected end of file; expected {expected}", last, "unexpected-eof")
        tok = self.toks[self.pos]
        self.pos += 1
        if tok.text not in ("{", "}") and ("{" in tok.text or "}" in tok.text):
            raise self.error(f"{tok.text!r}: braces must be separated from other text by a space "
                             f"(MAESTRO reads {tok.text!r} as one token)", tok.line, "glued-brace")
        return tok

    def open_brace(self, after: str, what: str) -> Token:
        tok = self.next(f"'{{' after {after}")
        if tok.text != "{":
            raise self.error(f"expected '{{' after {after}, found {tok.text!r}", tok.line,
                             "missing-brace")
        self.blocks.append((what, tok.line))
        return tok

    def names_until_brace(self, keyword: Token) -> tuple[list[str], Token]:
        """Tokens between ``Network``/``Layer`` and ``{`` (MAESTRO keeps the last as the name)."""
        names: list[str] = []
        while True:
            tok = self.next(f"a name and '{{' after {keyword.text}")
            if tok.text == "{":
                return names, tok
            following = self.toks[self.pos].text if self.pos < len(self.toks) else None
            if tok.text in KEYWORDS and following != "{":  # a keyword is a name only before {
                raise self.error(f"expected '{{' after '{' '.join([keyword.text, *names])}', "
                                 f"found {tok.text!r}", tok.line, "missing-brace")
            names.append(tok.text)

    def value(self, st: _LayerState, what: str, allow_sz: bool = True) -> int:
        """INT, constant name or ``Sz(D)``; must be a positive 32-bit integer."""
        forms = ", a constant or Sz(D)" if allow_sz else " or a constant"
        tok = self.next(f"{what} (an integer{forms})")
        text = tok.text
        if negative_number(tok):
            raise self.error(f"{what} must be > 0, got -{text} (MAESTRO would silently read "
                             f"{text})", tok.line, "positive-size")
        if text == "Sz" and allow_sz:
            dim = self.next("a dimension name after Sz")
            if dim.text not in st.dims:
                declared = " ".join(st.dims) or "none"
                raise self.error(f"Sz({dim.text}): {dim.text} is not declared in this layer's "
                                 f"Dimensions (declared: {declared}); Dimensions must come "
                                 "before Dataflow", dim.line, "sz-undeclared")
            value = st.dims[dim.text]
        elif is_int(text):
            value = int(text)
            if value > INT_MAX:
                raise self.error(f"{what} {text} exceeds {INT_MAX}", tok.line, "int-range")
        elif text in self.constants:
            value = self.constants[text]
        elif text in KEYWORDS:
            raise self.error(f"expected {what}, found {text!r}", tok.line, "unexpected-token")
        elif _IDENT_RE.fullmatch(text):
            raise self.error(f"unknown constant {text!r} for {what}; declare it before the "
                             f"Network with 'Constant {text} <value>'", tok.line,
                             "unknown-constant")
        else:
            raise self.error(f"expected {what} as an integer, found {text!r}", tok.line, "integer")
        if value <= 0:
            raise self.error(f"{what} must be > 0, got {value}", tok.line, "positive-size")
        return value

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Network:
        while self.pos < len(self.toks):
            tok = self.next("Network, Layer or Constant")
            if tok.text == "Network":
                self.network(tok)
            elif tok.text == "Layer":
                self.layer(tok)
            elif tok.text == "Constant":
                self.constant()
            elif tok.text == "Accelerator":
                raise self.error("'Accelerator' blocks are not supported in a mapping file "
                                 "(MAESTRO cannot parse them either); describe the hardware "
                                 "in a separate hardware file (num_pes, l1_size_cstr, ...)",
                                 tok.line, "accelerator-block")
            elif tok.text in HW_FILE_KEYS:
                self.saw_hw_key = True
                if self.pos < len(self.toks) and is_int(self.toks[self.pos].text):
                    self.pos += 1  # a hardware key in a mapping file: ignored, as by MAESTRO
            elif tok.text == "}":
                raise self.error("'}' without a matching '{'", tok.line, "unbalanced-braces")
            else:
                raise self.error(f"unexpected {tok.text!r} at top level; expected Network, "
                                 "Layer or Constant", tok.line, "unexpected-token")
        if not self.layers:
            hint = " (this looks like a hardware file)" if self.saw_hw_key else ""
            raise self.error(f"no layers found{hint}; expected 'Network NAME {{ Layer NAME "
                             "{ ... } }'", self.toks[-1].line if self.toks else 1, "no-layers")
        return Network(self.net_name or "Network", self.layers)

    def constant(self) -> None:
        name = self.next("a constant name")
        if name.text in KEYWORDS or not _IDENT_RE.fullmatch(name.text):
            raise self.error(f"invalid constant name {name.text!r}", name.line, "constant")
        val = self.next(f"the value of constant {name.text}")
        if negative_number(val):
            raise self.error(f"constant {name.text}: expected a non-negative integer, found "
                             f"-{val.text}", val.line, "constant")
        if not is_int(val.text) or int(val.text) > INT_MAX:
            raise self.error(f"constant {name.text}: expected a non-negative integer, found "
                             f"{val.text!r}", val.line, "constant")
        self.constants[name.text] = int(val.text)

    def network(self, kw: Token) -> None:
        names, brace = self.names_until_brace(kw)
        if names:
            self.net_name = names[-1]
        self.blocks.append((f"Network {self.net_name or ''}".rstrip(), brace.line))
        while True:
            tok = self.next("'Layer' or '}'")
            if tok.text == "}":
                break
            if tok.text == "Layer":
                self.layer(tok)
            else:
                raise self.error(f"unexpected {tok.text!r} in Network block; expected 'Layer' or "
                                 "'}'", tok.line, "unexpected-token")
        self.blocks.pop()

    def layer(self, kw: Token) -> None:
        names, brace = self.names_until_brace(kw)
        st = _LayerState(names[-1] if names else "Layer", kw.line)
        self.blocks.append((f"Layer {st.name!r}", brace.line))
        while True:
            tok = self.next("Type, Stride, Dimensions, Dataflow or '}'")
            if tok.text == "}":
                break
            handler = {"Type": self.type_item, "Stride": self.stride_block,
                       "Dimensions": self.dims_block, "Dataflow": self.dataflow_block,
                       "Density": self.density_block}.get(tok.text)
            if handler is None:
                raise self.error(f"unknown keyword {tok.text!r} in layer {st.name!r}; expected "
                                 "Type, Stride, Dimensions, Dataflow or '}'", tok.line,
                                 "unexpected-token")
            handler(st, tok)
        self.blocks.pop()
        self.finish_layer(st)

    def type_item(self, st: _LayerState, kw: Token) -> None:
        tok = self.next("a layer type")
        if st.type is not None:
            raise self.error(f"layer {st.name!r}: second Type", kw.line, "duplicate-block")
        if tok.text in UNSUPPORTED_TYPES:
            raise self.error(f"layer type {tok.text} is not supported (MAESTRO creates no layer "
                             "for it); write it as CONV, DSCONV or GEMM", tok.line,
                             "unsupported-layer-type")
        if tok.text not in SUPPORTED_TYPES:
            raise self.error(f"unknown layer type {tok.text!r}; expected one of "
                             f"{' '.join(SUPPORTED_TYPES)}", tok.line, "layer-type")
        st.type = tok.text
        if st.ready:
            self.after_dims(st)

    def stride_block(self, st: _LayerState, kw: Token) -> None:
        if st.dims_line is not None:
            raise self.error(f"Stride block must come before Dimensions (line {st.dims_line})",
                             kw.line, "stride-after-dimensions")
        if st.stride_line is not None:
            raise self.error(f"layer {st.name!r}: second Stride block", kw.line, "duplicate-block")
        st.stride_line = kw.line
        self.open_brace("Stride", "Stride block")
        while True:
            tok = self.next("X, Y or '}'")
            if tok.text == "}":
                break
            if tok.text not in ("X", "Y"):
                raise self.error(f"Stride on {tok.text!r}: only X and Y can be strided",
                                 tok.line, "stride-dimension")
            if tok.text in st.strides:
                raise self.error(f"Stride on {tok.text} given twice", tok.line,
                                 "duplicate-dimension")
            val = self.next(f"the stride of {tok.text}")
            if negative_number(val):
                raise self.error(f"stride of {tok.text} must be >= 1, got -{val.text}",
                                 val.line, "stride")
            if not is_int(val.text) or int(val.text) > INT_MAX:
                raise self.error(f"stride of {tok.text}: expected an integer, found {val.text!r}",
                                 val.line, "integer")
            if int(val.text) < 1:
                raise self.error(f"stride of {tok.text} must be >= 1, got {val.text}", val.line,
                                 "stride")
            st.strides[tok.text] = int(val.text)
        self.blocks.pop()

    def density_block(self, st: _LayerState, kw: Token) -> None:
        """Extension (sparsity): ``Density { Weight: 2:4; Input: 0.6 }``; a value is a
        fraction in (0, 1] or N:M (two integers)."""
        self.open_brace("Density", "Density block")
        tok = self.next("a tensor name (Input, Weight, Output) or '}'")
        while tok.text != "}":
            if tok.text.lower() not in ("input", "weight", "filter", "output"):
                raise self.error(f"layer {st.name!r}: unknown tensor {tok.text!r} in Density; "
                                 "expected Input, Weight or Output", tok.line, "density")
            val = self.next(f"the density of {tok.text}")
            nxt = self.next("a tensor name or '}'")
            if is_int(val.text) and is_int(nxt.text):  # N:M (':' is a separator)
                st.density[tok.text.lower()] = f"{val.text}:{nxt.text}"
                nxt = self.next("a tensor name or '}'")
            else:
                st.density[tok.text.lower()] = ("-" if val.minus else "") + val.text
            tok = nxt
        self.blocks.pop()

    def dims_block(self, st: _LayerState, kw: Token) -> None:
        if st.dims_line is not None:
            raise self.error(f"layer {st.name!r}: second Dimensions block", kw.line,
                             "duplicate-block")
        self.open_brace("Dimensions", "Dimensions block")
        while True:
            tok = self.next("a dimension name or '}'")
            if tok.text == "}":
                break
            if tok.text in KEYWORDS:
                raise self.error(f"expected a dimension name or '}}', found {tok.text!r}",
                                 tok.line, "unexpected-token")
            if tok.text in st.dims:
                raise self.error(f"dimension {tok.text} declared twice", tok.line,
                                 "duplicate-dimension")
            st.dims[tok.text] = self.value(st, f"the size of {tok.text}", allow_sz=False)
            st.dim_lines[tok.text] = tok.line
        self.blocks.pop()
        st.dims_line = kw.line
        if st.ready:
            self.after_dims(st)

    def after_dims(self, st: _LayerState) -> None:
        """Checks once Type and Dimensions are both known; completes FC layers."""
        assert st.type is not None
        allowed = ALLOWED_DIMS[st.type]
        for d, line in st.dim_lines.items():
            if d not in allowed:
                hint = " (only ASCII ' is allowed in Y'/X')" if not d.isascii() else ""
                raise self.error(f"{d!r} is not a {st.type} dimension{hint}; expected one of "
                                 f"{' '.join(allowed)}", line, "unknown-dimension")
        if st.type == "FC":  # convenience: FC = CONV with unit filter and input window
            st.type = "CONV"
            for d in ("R", "S", "Y", "X"):
                st.dims.setdefault(d, 1)
        for a, b in (("Y", "Y'"), ("X", "X'")):
            if a in st.dims and b in st.dims:
                raise self.error(f"declare either {a} or {b}, not both", max(
                    st.dim_lines.get(a, 0), st.dim_lines.get(b, 0)) or st.dims_line,
                    "dimension-conflict")
        if st.type in CONV_FAMILY:
            missing = [d for d in ("R", "S") if d not in st.dims]
            if missing:
                raise self.error(f"a {st.type} layer must declare {' and '.join(missing)}",
                                 st.dims_line, "missing-rs")
        if st.type == "GEMM" and any(v != 1 for v in st.strides.values()):
            raise self.error("GEMM layers cannot be strided", st.stride_line, "stride-dimension")
        self.check_directives(st)

    def check_directives(self, st: _LayerState) -> None:
        assert st.type is not None
        for d, line in st.directives[st.n_checked:]:
            problem = directive_dim_error(st.type, st.dims, d)
            if problem:
                err = self.error(problem[0], line, problem[1])
                if not self.drop_bad_dataflows:
                    raise err
                st.dataflow_error = st.dataflow_error or err
        st.n_checked = len(st.directives)

    def dataflow_block(self, st: _LayerState, kw: Token) -> None:
        if st.dataflow_line is not None:
            raise self.error(f"layer {st.name!r}: second Dataflow block", kw.line,
                             "duplicate-block")
        st.dataflow_line = kw.line
        self.open_brace("Dataflow", "Dataflow block")
        clusters = 0
        while True:
            tok = self.next("TemporalMap, SpatialMap, Cluster or '}'")
            if tok.text == "}":
                break
            if tok.text == "L2Resident":
                st.l2_resident = (self.resident_count(tok), tok.line)
                continue
            if tok.text not in DIRECTIVES:
                raise self.error(f"unknown directive {tok.text!r}; expected TemporalMap, "
                                 "SpatialMap, Cluster or '}'", tok.line, "unexpected-token")
            d = self.directive(st, tok)
            if isinstance(d, Cluster):
                clusters += 1
                if clusters > MAX_CLUSTERS:
                    raise self.error(f"more than {MAX_CLUSTERS} Cluster directives (MAESTRO "
                                     f"supports at most {MAX_CLUSTERS + 1} levels)", tok.line,
                                     "cluster-count")
            st.directives.append((d, tok.line))
            if st.ready:
                self.check_directives(st)
        self.blocks.pop()

    def resident_count(self, kw: Token) -> int:
        """``L2Resident(k)``: our physical-model extension (an outer DRAM-to-L2 level)."""
        tok = self.next("the number of L2-resident loops")
        if not is_int(tok.text) or int(tok.text) > 64:
            raise self.error(f"L2Resident: expected a number of loops from 0 to 64, found "
                             f"{tok.text!r}", tok.line, "l2-resident")
        return int(tok.text)

    def directive(self, st: _LayerState, kw: Token) -> Directive:
        """The rest of one directive after its keyword ``kw`` (sizes resolved against ``st``)."""
        if kw.text == "Cluster":
            size = self.value(st, "the Cluster size")
            ctype = self.next("the Cluster type (P or L)")
            if ctype.text not in ("P", "L"):
                raise self.error(f"unknown Cluster type {ctype.text!r}; expected P or L",
                                 ctype.line, "cluster-type")
            return Cluster(size, ctype.text)
        size = self.value(st, f"the size of {kw.text}")
        offset = self.value(st, f"the offset of {kw.text}")
        dim = self.next(f"the dimension of {kw.text}")
        if dim.text in KEYWORDS:
            raise self.error(f"expected the dimension of {kw.text}, found {dim.text!r}",
                             dim.line, "unexpected-token")
        cls = TemporalMap if kw.text == "TemporalMap" else SpatialMap
        return cls(size, offset, dim.text)

    def finish_layer(self, st: _LayerState) -> None:
        if st.type is None:
            raise self.error(f"layer {st.name!r} has no Type", st.line, "missing-type")
        if st.dims_line is None:
            raise self.error(f"layer {st.name!r} has no Dimensions block", st.line,
                             "missing-dimensions")
        strides = {d: s for d, s in st.strides.items() if s != 1}
        inherited_from = None
        if st.directives:
            res, res_line = st.l2_resident or (None, None)
            dataflow: Dataflow | None = Dataflow(tuple(d for d, _ in st.directives),
                                                 l2_resident=res, l2_resident_line=res_line)
        elif self.prev is not None:
            # MAESTRO shares the previous layer's directive list (spec 7.13); we copy it on
            # purpose so that no later edit of one layer's dataflow can affect another.
            inherited_from, prev_df = self.prev
            dataflow = Dataflow(tuple(prev_df.directives))
        else:
            dataflow = None  # a workload layer: no mapping yet
        try:
            layer = Layer(st.name, st.type, dict(st.dims), strides, dataflow,
                          density=dict(st.density))
        except MaestroInputError as exc:
            raise self.error(exc.message, st.line, exc.rule or "layer") from None
        layer.source_line = st.dataflow_line or st.line
        if dataflow is not None:
            line = st.dataflow_line or st.line
            try:
                if st.dataflow_error is not None:
                    raise st.dataflow_error
                validate_dataflow(layer, self.source, line)
            except MaestroInputError as exc:
                if inherited_from is not None:
                    exc.message += f" (dataflow inherited from layer {inherited_from!r})"
                    exc.args = (str(exc),)
                if not self.drop_bad_dataflows:
                    raise
                self.dropped.append((layer.name, exc))
                layer = dataclasses.replace(layer, dataflow=None)
                layer.source_line = line
                dataflow = None
            if dataflow is not None:
                self.prev = (layer.name, dataflow)
        self.layers.append(layer)


def parse_directive(text: str, dims: dict[str, int] | None = None) -> Directive:
    """One directive written as in a mapping file, e.g. ``"TemporalMap(Sz(R),1) Y"``.

    ``Sz(D)`` is resolved against ``dims``; a trailing ``;`` is allowed. The error (if any)
    carries no source or line.
    """
    parser = MappingParser(text, source="")
    st = _LayerState("", 1, dims=dict(dims or {}))
    kw = parser.next("TemporalMap, SpatialMap or Cluster")
    if kw.text not in DIRECTIVES:
        raise MaestroInputError(f"unknown directive {kw.text!r}; expected TemporalMap, "
                                "SpatialMap or Cluster", rule="unexpected-token")
    d = parser.directive(st, kw)
    if parser.pos < len(parser.toks):
        raise MaestroInputError(f"unexpected {parser.toks[parser.pos].text!r} after {d}",
                                rule="unexpected-token")
    return d


def parse_dataflow(text: str, dims: dict[str, int] | None = None) -> Dataflow:
    """A dataflow written as its directives joined by ``;`` (``str(Dataflow)``, result
    files), e.g. ``"SpatialMap(1,1) K; TemporalMap(3,3) C"``; see :func:`parse_directive`."""
    parts = [t for t in text.split(";") if t.strip()]
    resident = None
    if parts and parts[-1].strip().startswith("L2Resident"):
        parser = MappingParser(parts.pop().strip(), source="")
        resident = parser.resident_count(parser.next("L2Resident"))
    if not parts:
        raise MaestroInputError(f"no directives in dataflow {text!r}", rule="unexpected-token")
    return Dataflow([parse_directive(t, dims) for t in parts], l2_resident=resident)
