"""Read and write MAESTRO's own file formats: mapping/model files and hardware files.

Mapping files follow spec section 1.2; see :func:`parse_mapping` for where we are stricter
or more lenient than the MAESTRO binary. Hardware files follow spec section 1.4.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from ..errors import MaestroInputError
from ..hardware import Hardware
from ..layer import Network
from ._dfsl import MappingParser, parse_dataflow, parse_directive
from ._lexer import INT_MAX, is_int, negative_number, tokenize
from .validate import validate_dataflow

__all__ = ["parse_mapping", "load_mapping", "parse_workload", "load_workload", "format_mapping",
           "save_mapping", "validate_dataflow", "parse_directive", "parse_dataflow",
           "parse_hardware", "load_hardware", "format_hardware", "save_hardware", "HW_KEYS"]

StrPath = str | PathLike


def _read(path: StrPath) -> str:
    # Universal newlines turn CRLF into LF; undecodable bytes become U+FFFD and then fail as
    # unknown tokens with a line number.
    return Path(path).read_text(encoding="utf-8", errors="replace")


# -- mapping files ---------------------------------------------------------------------------
def parse_mapping(text: str, source: str = "<string>") -> Network:
    """Parse the text of a MAESTRO mapping (``.m``) file into a :class:`Network`.

    ``Sz(D)`` and ``Constant`` names are resolved to integers, as MAESTRO does. Strides
    equal to 1 are dropped from ``Layer.strides``. Every violation raises
    :class:`MaestroInputError` with ``source``, a 1-based ``line`` and a ``rule``.

    Beyond MAESTRO's parse-time checks this checks dimension names per layer type,
    directives on undeclared dims, Y and Y' both declared, missing R/S, duplicate blocks
    and dims, glued braces (``Dataflow{``), ``Accelerator`` blocks, and runs
    :func:`validate_dataflow` on every mapped layer (reported at its ``Dataflow`` line).

    Lenient where MAESTRO is not: CRLF line endings; ``FC`` layers (dims K, C and optional
    N; they become CONV with missing R, S, Y, X set to 1); ``Layer`` blocks outside any
    ``Network`` (network name ``"Network"``). A layer with a missing or empty ``Dataflow``
    block gets a *copy* of the previous mapped layer's dataflow (MAESTRO shares the list;
    the copy is deliberate), or ``None`` if no layer before it was mapped. Offsets larger
    than sizes are accepted: MAESTRO runs such mappings (e.g. on strided X/Y).
    """
    return MappingParser(text, source).parse()


Dropped = list[tuple[str, MaestroInputError]]  # (layer name, why its dataflow was dropped)


def parse_workload(text: str, source: str = "<string>") -> tuple[Network, Dropped]:
    """The layers of a mapping file, for tuning them: as :func:`parse_mapping`, except that a
    layer whose dataflow breaks a rule (a TemporalMap that splits a filter, a directive on an
    undeclared dim, ...) is kept without it; those ``(layer name, error)`` pairs are returned.
    Errors of the file's syntax and of the layers themselves still raise."""
    parser = MappingParser(text, source, drop_bad_dataflows=True)
    return parser.parse(), parser.dropped


def load_workload(path: StrPath) -> tuple[Network, Dropped]:
    """:func:`parse_workload` of a file; errors name the file as given."""
    return parse_workload(_read(path), str(path))


def load_mapping(path: StrPath) -> Network:
    """Read and parse a mapping file; errors name the file as given."""
    return parse_mapping(_read(path), str(path))


_BAD_NAME_CHARS = re.compile(r"[ \t\r\n,\->():;{}]")


def _token_name(name: str, default: str) -> str:
    """``name`` made a single MAESTRO token (bad characters become ``_``)."""
    name = _BAD_NAME_CHARS.sub("_", str(name)) or default
    return f"_{name}" if name.startswith("//") else name


def format_mapping(network: Network, *, residency_as_comment: bool = False) -> str:
    """The network as a mapping file that the MAESTRO binary accepts.

    Every mapped layer gets its own explicit ``Dataflow`` block (never MAESTRO's shared
    inheritance). Names are made single tokens (separators and braces become ``_``).
    A layer without dataflow after a mapped one cannot be expressed (it would inherit),
    so it raises :class:`MaestroInputError`.

    ``L2Resident(k)`` (the physical model's DRAM-to-L2 level, which MAESTRO rejects) is a
    directive line, or with ``residency_as_comment`` a ``//`` comment that MAESTRO and our
    parser skip: for a ``k`` the physical model chose itself (a search result), which it
    chooses again when the line is absent, so the file runs in MAESTRO and evaluates the
    same under ``physical``. A user's pinned ``k`` needs the directive. Densities (the
    sparsity extension) are always written as a block.
    """
    out = [f"Network {_token_name(network.name, 'Network')} {{"]
    mapped_before = None
    for layer in network.layers:
        if layer.dataflow is None and mapped_before is not None:
            raise MaestroInputError(
                f"layer {layer.name!r} has no dataflow but follows mapped layer "
                f"{mapped_before!r}; in a MAESTRO file it would inherit that dataflow",
                rule="unrepresentable")
        out.append(f"\tLayer {_token_name(layer.name, 'Layer')} {{")
        out.append(f"\t\tType: {layer.type}")
        if any(int(s) != 1 for s in layer.strides.values()):
            out.append(f"\t\tStride {{ X: {layer.stride('X')}, Y: {layer.stride('Y')} }}")
        dims = ", ".join(f"{d}: {int(v)}" for d, v in layer.dims.items())
        out.append(f"\t\tDimensions {{ {dims} }}")
        if layer.density:  # sparsity extension (MAESTRO rejects it); masks as their density
            dens = "; ".join(f"{t.capitalize()}: {d if d.mask is None else f'{d.value:g}'}"
                             for t, d in layer.density.items())
            out.append(f"\t\tDensity {{ {dens} }}")
        if layer.dataflow is not None:
            mapped_before = layer.name
            out.append("\t\tDataflow {")
            out.extend(f"\t\t\t{d};" for d in layer.dataflow.directives)
            k = layer.dataflow.l2_resident
            if k is not None and residency_as_comment:
                out.append(f"\t\t\t// L2Resident({k}); physical model's choice, re-derived "
                           "when absent")
            elif k is not None:  # physical-model extension
                out.append(f"\t\t\tL2Resident({k});")
            out.append("\t\t}")
        out.append("\t}")
    out.append("}")
    return "\n".join(out) + "\n"


def save_mapping(network: Network, path: StrPath) -> None:
    """Write :func:`format_mapping` output to ``path``."""
    Path(path).write_text(format_mapping(network), encoding="utf-8")


# -- hardware files --------------------------------------------------------------------------
#: MAESTRO hardware-file key -> Hardware field. ``num_simd_lanes`` is our extension.
HW_KEYS = {"num_pes": "num_pes", "l1_size_cstr": "l1_size", "l2_size_cstr": "l2_size",
           "noc_bw_cstr": "noc_bw", "offchip_bw_cstr": "offchip_bw",
           "NoC_NumHops": "noc_latency", "num_simd_lanes": "simd_lanes"}


def parse_hardware(text: str, source: str = "<string>") -> Hardware:
    """Parse a MAESTRO hardware file (``key value`` pairs, lexed like mapping files).

    Absent keys take MAESTRO's HW-file defaults (1 PE, INT_MAX sizes and bandwidths,
    ``NoC_NumHops`` 1), which are :class:`Hardware`'s defaults. ``NoC_NumHops`` is the NoC
    latency and may be 0; every other value must be a positive integer. The optional key
    ``num_simd_lanes`` is our extension (MAESTRO only takes it from the command line and
    rejects it in a file). Rules: ``hw-unknown-key``, ``hw-duplicate-key``, ``hw-value``.
    """
    tokens = tokenize(text)
    if not tokens:
        raise MaestroInputError("hardware file is empty; expected 'key value' lines such as "
                                "'num_pes 168'", source=source, line=1,
                                rule="hw-empty")
    values: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i in range(0, len(tokens), 2):
        key = tokens[i]
        if key.text not in HW_KEYS:
            hint = (" (this looks like a mapping file)" if key.text in ("Network", "Layer",
                                                                         "Constant") else "")
            raise MaestroInputError(f"unknown hardware key {key.text!r}{hint}; expected one of "
                                    f"{', '.join(HW_KEYS)}", source=source, line=key.line,
                                    rule="hw-unknown-key")
        if key.text in seen:
            raise MaestroInputError(f"{key.text} given twice (first at line {seen[key.text]})",
                                    source=source, line=key.line, rule="hw-duplicate-key")
        seen[key.text] = key.line
        if i + 1 >= len(tokens):
            raise MaestroInputError(f"{key.text} has no value", source=source, line=key.line,
                                    rule="hw-value")
        val = tokens[i + 1]
        minimum = 0 if key.text == "NoC_NumHops" else 1
        if (negative_number(val) or not is_int(val.text)
                or not minimum <= int(val.text) <= INT_MAX):
            need = "a non-negative" if minimum == 0 else "a positive"
            shown = "-" + val.text if negative_number(val) else val.text
            if is_int(val.text) and not negative_number(val) and int(val.text) > INT_MAX:
                raise MaestroInputError(f"{key.text} {val.text} exceeds {INT_MAX}",
                                        source=source, line=val.line, rule="hw-value")
            raise MaestroInputError(f"{key.text} must be {need} integer, got {shown!r}",
                                    source=source, line=val.line, rule="hw-value")
        values[HW_KEYS[key.text]] = int(val.text)
    return Hardware(**values)


def load_hardware(path: StrPath) -> Hardware:
    """Read and parse a MAESTRO hardware file."""
    return parse_hardware(_read(path), str(path))


def format_hardware(hw: Hardware) -> str:
    """A MAESTRO hardware file with all six MAESTRO keys.

    MAESTRO rejects unknown keys in a HW file, so the fields it has no key for (SIMD lanes,
    DRAM latency, clock, bytes per element) are not written as keys; those that differ from
    their defaults are named in a ``//`` comment (MAESTRO and our parser skip it), with the
    command-line flag that gives MAESTRO the lanes. The YAML form holds every field.
    """
    keys = [k for k in HW_KEYS if k != "num_simd_lanes"]
    out = "".join(f"{k}: {int(getattr(hw, HW_KEYS[k]))}\n" for k in keys)
    default = Hardware()
    extra = [f"{name} {getattr(hw, name):g}" for name in
             ("simd_lanes", "offchip_latency", "clock_ghz", "element_bytes")
             if getattr(hw, name) != getattr(default, name)]
    if extra:
        lanes = (f" (MAESTRO: --num_simd_lanes={hw.simd_lanes})" if hw.simd_lanes != 1
                 else "")
        out += (f"// also, not keys of this file: {', '.join(extra)}{lanes}; "
                "the YAML hardware form holds them\n")
    return out


def save_hardware(hw: Hardware, path: StrPath) -> None:
    """Write :func:`format_hardware` output to ``path``."""
    Path(path).write_text(format_hardware(hw), encoding="utf-8")
