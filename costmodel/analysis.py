"""Public entry points: evaluate one mapping, a batch of candidates, or a whole network."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from .busiest_pe import busiest_pe_macs
from .dataflow import Dataflow
from .energy import DEFAULT_AREA_POWER, DEFAULT_ENERGY, AreaPowerModel, EnergyModel
from .engine import Engine, HardwareBatch
from .engine.arrays import divide_quiet
from .errors import MappingError
from .hardware import INT_MAX, Hardware
from .layer import Layer, Network, TensorTable, tensor_table
from .levels import build_levels, layer_facts, uncovered_pairs
from .physical_report import DRAM_FIELDS, apply_physical, runtime_is_compute
from .sparsity.config import SparsityConfig
from .sparsity.report import is_active as sparsity_active
from .sparsity.report import sparse_hook
from .validity import ERR_BUSIEST_PE, ERR_MACS, ERR_PAIRS, ERR_RUNTIME, describe_flags_array
from .validity import ERR_NO_VALID as ERROR_NO_VALID
from .validity import ERROR_REASONS as ERROR_REASONS  # importable from here too
from .validity import REASONS as REASONS
from .validity import describe_flags as describe_flags  # importable from here too

TENSORS = ("input", "filter", "output")


@dataclass
class CostReport:
    """Everything the model reports for one (layer, dataflow, hardware).

    Sizes and traffic are element counts. ``*_l2_*`` counters are at the top level's upstream
    (L2) side, ``*_l1_*`` at its downstream side (MAESTRO's convention). ``energy_nj`` uses this
    layer's own counters: ``unit*(l2*(in/filter L2 reads+writes + output L2 writes) + l1*(all six
    L1 counters))``, which equals MAESTRO's CSV energy except where MAESTRO takes the previous
    layer's L1 counters (multi-level mappings); ``energy_total_nj`` adds MACs and output L2
    reads (MAESTRO's console total). ``valid`` is False, with ``reason``, when the result is
    physically inconsistent or MAESTRO cannot analyse it.
    """

    layer: str
    runtime: int
    num_macs: int
    expected_macs: int
    throughput: float
    energy_nj: float
    energy_total_nj: float
    area: float
    power: float
    pe_power: float
    l1_power: float
    l2_power: float
    noc_power: float
    noc_bw_req: int
    avg_bw_req: float
    offchip_bw_req: int
    l2_size: int
    l1_size: int
    input_l2_size: int
    filter_l2_size: int
    output_l2_size: int
    input_l1_size: int
    filter_l1_size: int
    output_l1_size: int
    input_l1_read: int
    input_l1_write: int
    input_l2_read: int
    input_l2_write: int
    input_reuse_factor: float
    filter_l1_read: int
    filter_l1_write: int
    filter_l2_read: int
    filter_l2_write: int
    filter_reuse_factor: float
    output_l1_read: int
    output_l1_write: int
    output_l2_read: int
    output_l2_write: int
    output_reuse_factor: float
    ingress_delay_min: int
    ingress_delay_max: int
    ingress_delay_avg: int
    egress_delay_min: int
    egress_delay_max: int
    egress_delay_avg: int
    compute_delay_min: int
    compute_delay_max: int
    compute_delay_avg: int
    avg_utilized_pes: float
    arithmetic_intensity: float
    num_input_elements: int
    num_weight_elements: int
    num_pes: int
    simd_lanes: int
    flags: int
    valid: bool
    reason: str
    #: which model produced the numbers: "maestro" or "physical"
    cost_model: str = "maestro"
    #: the resource that bounds the runtime: compute, noc or dram (physical); compute or
    #: transfer (maestro: NoC and its off-chip term are not separated)
    bound: str = ""
    # DRAM level (physical model; 0 under maestro, which has no DRAM level). Elements.
    dram_read: int = 0
    dram_write: int = 0
    dram_read_input: int = 0
    dram_read_weight: int = 0
    dram_read_output: int = 0
    dram_energy_nj: float = 0.0
    dram_stall_cycles: int = 0
    #: innermost top-level loops whose tiles stay in L2, and the L2 that block needs
    l2_resident: int = 0
    l2_resident_size: int = 0
    #: MACs whose operands are both nonzero (expected, from the layer's densities; = num_macs
    #: for a dense layer) and metadata moved at L1/L2, in element-equivalents (sparsity)
    effectual_macs: int = 0
    metadata_elements: int = 0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


REPORT_FIELDS = tuple(f.name for f in fields(CostReport))


class BatchReport(dict):
    """Field name -> array over candidates (same names as :class:`CostReport`)."""

    def row(self, k: int) -> CostReport:
        vals = {}
        for f in fields(CostReport):
            v = self[f.name]
            v = v[k] if isinstance(v, np.ndarray) else v
            if f.type in ("int", int):
                v = int(v)
            elif f.type in ("float", float):
                v = float(v)
            elif f.type in ("bool", bool):
                v = bool(v)
            vals[f.name] = v
        return CostReport(**vals)

    def __len__(self) -> int:  # number of candidates
        return len(self["runtime"])


def compute_bound(layer: Layer, hardware: Hardware) -> int:
    """Fewest cycles any valid mapping of ``layer`` can take on ``hardware``: every PE busy on
    every cycle, ``ceil(MACs / (PEs x SIMD lanes))`` (the consistency check enforces it)."""
    return -(-layer.macs // (hardware.num_pes * hardware.simd_lanes))


def hardware_batch(hw, B: int) -> HardwareBatch:
    """Broadcast a :class:`Hardware` or a mapping of field -> scalar/array to ``B`` candidates
    (read-only arrays)."""
    if isinstance(hw, Hardware):
        return _hardware_batch(hw, B)
    get = lambda k, d: np.broadcast_to(np.asarray(hw.get(k, d), dtype=np.int64), (B,))  # noqa
    return HardwareBatch(num_pes=get("num_pes", 1), noc_bw=get("noc_bw", 2**31 - 1),
                         noc_latency=get("noc_latency", 1), offchip_bw=get("offchip_bw", 2**31 - 1),
                         simd_lanes=get("simd_lanes", 1))


@lru_cache(maxsize=256)
def _hardware_batch(hw: Hardware, B: int) -> HardwareBatch:
    """:func:`hardware_batch` of a (frozen, hashable) :class:`Hardware`: a search evaluates
    many batches on one accelerator."""
    get = lambda v: np.broadcast_to(np.asarray(v, dtype=np.int64), (B,))  # noqa: E731
    return HardwareBatch(num_pes=get(hw.num_pes), noc_bw=get(hw.noc_bw),
                         noc_latency=get(hw.noc_latency), offchip_bw=get(hw.offchip_bw),
                         simd_lanes=get(hw.simd_lanes))


COST_MODELS = ("maestro", "physical")


def check_cost_model(name: str) -> str:
    """``name`` if it is a known cost model, else a clear error."""
    if name not in COST_MODELS:
        raise ValueError(f"unknown cost model {name!r}; expected one of {', '.join(COST_MODELS)}")
    return name


def evaluate_batch(layer: Layer, structure, sizes, offsets, hardware, *,
                   table: TensorTable | None = None, energy: EnergyModel = DEFAULT_ENERGY,
                   area_power: AreaPowerModel = DEFAULT_AREA_POWER,
                   cost_model: str = "maestro", l2_resident=None,
                   sparsity: SparsityConfig | None = None, fields=None) -> BatchReport:
    """Evaluate many candidate mappings of one layer that share one dataflow ``structure``.

    ``structure`` is a sequence of ``(kind, dim)`` with kind in ``"T"``, ``"S"``, ``"C"`` (dim
    ``""`` for clusters), e.g. ``Dataflow.structure``. ``sizes`` and ``offsets`` are
    ``[B, len(structure)]`` integer arrays (cluster columns: size = cluster size; offset
    ignored). ``hardware`` is a
    :class:`Hardware` or a dict of field -> scalar or ``[B]`` array. No Python loop runs per
    candidate. ``cost_model``: ``"maestro"`` (MAESTRO's numbers, exactly) or ``"physical"``
    (DRAM as a level with reuse, bandwidth-bound runtime and DRAM energy; see
    :mod:`costmodel.physical`). ``l2_resident`` (physical only): how many innermost top-level
    loops keep their tiles in L2 (int or ``[B]`` array); None chooses the best that fits.
    ``sparsity`` (physical only, with ``layer.density``): formats and compute action, see
    :mod:`costmodel.sparsity`; ``maestro`` stays dense. ``fields`` (optional): the report
    fields the caller reads; the delay statistics, average NoC bandwidth, arithmetic
    intensity and (maestro) off-chip requirement are then computed, and reported, only when
    asked for (a search reads a few fields); every other field is always there.
    """
    check_cost_model(cost_model)
    structure = tuple(structure)
    sizes = np.atleast_2d(np.asarray(sizes, dtype=np.int64))
    offsets = np.atleast_2d(np.asarray(offsets, dtype=np.int64))
    B = sizes.shape[0]
    if sizes.shape != (B, len(structure)) or offsets.shape != sizes.shape:
        raise ValueError(f"sizes/offsets must be [B, {len(structure)}] arrays")
    if (sizes <= 0).any() or (offsets <= 0).any():
        raise MappingError("directive sizes, offsets and cluster sizes must be positive",
                           rule="positive-size")
    if table is None:
        table = tensor_table(layer.type, "N" in layer.dims)
    if cost_model == "maestro" and l2_resident is not None:
        raise MappingError("an L2-residency level (L2Resident) is a physical-model extension; "
                           "MAESTRO's model has no DRAM level: use the physical cost model",
                           rule="l2-resident")
    hwb = hardware_batch(hardware, B)
    levels = build_levels(layer, table, structure, sizes, offsets, hwb.num_pes)
    on_chip = hwb
    sparse_on = cost_model == "physical" and sparsity_active(layer, sparsity)
    skip = _skipped(fields, cost_model, sparse_on)
    if cost_model == "physical":  # on-chip analysis with an unbounded off-chip port
        on_chip = dataclasses.replace(hwb, offchip_bw=np.full(B, INT_MAX, dtype=np.int64))
    eng = Engine(levels, table, on_chip, skip)
    cand = np.arange(B)
    res = eng.analyze(0, cand, dict(levels[0].SD))
    res["err"] = res["err"] | np.where(uncovered_pairs(levels), ERR_PAIRS, 0)
    floor = _busiest_pe_floor(layer, levels, res, cost_model, hwb)
    report = _report(layer, table, res, hwb, energy, area_power, skip)
    if floor is not None:  # physical: after the consistency checks of MAESTRO's own runtime
        report["runtime"] = np.maximum(report["runtime"], floor)
        report["throughput"] = divide_quiet(report["num_macs"], report["runtime"])
        if "compute_cycles" in res:
            res["compute_cycles"] = np.maximum(res["compute_cycles"], floor)
    report["effectual_macs"] = report["num_macs"].copy()
    report["metadata_elements"] = np.zeros(B, dtype=np.int64)
    if cost_model == "physical":
        sparse = (sparse_hook(report, layer, table, levels, res, hwb, hardware, sparsity, energy)
                  if sparse_on else None)
        apply_physical(report, layer, table, levels[0], res, hardware, energy, l2_resident,
                       sparse)
    else:
        report["bound"] = np.where(runtime_is_compute(res), "compute", "transfer").astype(object)
        for name in DRAM_FIELDS:
            report[name] = np.zeros(B, dtype=float if name.endswith("_nj") else np.int64)
    report["cost_model"] = np.full(B, cost_model, dtype=object)
    return report


def _busiest_pe_floor(layer: Layer, levels, res: dict, cost_model: str, hwb):
    """No execution is faster than its busiest PE's MACs over the SIMD lanes, but MAESTRO's
    multi-level analysis reports less on some mappings with edge tiles (docs/fidelity.md,
    "Runtimes below the busiest PE's work"). ``maestro`` keeps its number and flags it
    (:data:`~costmodel.validity.ERR_BUSIEST_PE`, set here); for ``physical`` this returns
    the ``[B]`` floor (0 where the count is not exact,
    :func:`~costmodel.busiest_pe.busiest_pe_macs`) that its on-chip runtime is raised to,
    or None where no count is exact."""
    macs, exact = busiest_pe_macs(layer, levels)
    if not np.count_nonzero(exact):
        return None
    floor = -(-macs // np.maximum(hwb.simd_lanes, 1))
    if cost_model == "physical":
        return floor
    res["err"] = res["err"] | np.where(res["runtime"] < floor, ERR_BUSIEST_PE, 0)
    return None


def _skipped(fields, cost_model: str, sparse_on: bool) -> frozenset:
    """Top-level record parts the engine can leave out (see :class:`Engine`): the physical
    model replaces MAESTRO's off-chip requirement, and with ``fields`` the parts no asked
    field needs (the sparsity hook reads the average delays)."""
    skip = {"offchip_req"} if cost_model == "physical" else set()
    if fields is not None:
        fields = set(fields)
        if not sparse_on and not any("_delay_" in f for f in fields):
            skip.add("delays")
        if "avg_bw_req" not in fields:
            skip.add("avg_bw")
        if "arithmetic_intensity" not in fields:
            skip.add("ai")
        if "offchip_bw_req" not in fields:
            skip.add("offchip_req")
    return frozenset(skip)


def _report(layer, table, res, hwb, energy, area_power, skip=frozenset()) -> BatchReport:
    r = BatchReport()
    B = len(res["runtime"])
    r["layer"] = np.full(B, layer.name, dtype=object)
    runtime = res["runtime"]
    macs = res["num_macs"]
    r["runtime"], r["num_macs"] = runtime, macs
    expected = layer_facts(layer)[1]
    r["expected_macs"] = np.full(B, expected, dtype=np.int64)
    r["throughput"] = divide_quiet(macs, runtime)
    cnt = res["counters"]
    reuse = divide_quiet(cnt[:, :, 2], cnt[:, :, 3])
    for t, name in enumerate(TENSORS):
        r[f"{name}_l2_read"] = cnt[:, t, 0]
        r[f"{name}_l2_write"] = cnt[:, t, 1]
        r[f"{name}_l1_read"] = cnt[:, t, 2]
        r[f"{name}_l1_write"] = cnt[:, t, 3]
        r[f"{name}_reuse_factor"] = reuse[:, t]
    l2s = np.array([res["l2_size_in"], res["l2_size_w"], res["l2_size_out"]]).T
    l1s = res["first_l1"]
    for t, name in enumerate(TENSORS):
        r[f"{name}_l2_size"] = l2s[:, t]
        r[f"{name}_l1_size"] = l1s[:, t]
    r["l2_size"] = l2s.sum(axis=1)
    r["l1_size"] = l1s.sum(axis=1)
    l1_all = cnt[:, :, 2:].sum(axis=(1, 2))
    l2_main = cnt[:, 0, :2].sum(axis=1) + cnt[:, 1, :2].sum(axis=1) + cnt[:, 2, 1]
    e = energy
    r["energy_nj"] = e.unit_nj * (e.l2_read * l2_main + e.l1_read * l1_all)
    l1_rd = cnt[:, :, 2].sum(axis=1)
    l1_wr = cnt[:, :, 3].sum(axis=1)
    l2_rd = cnt[:, :, 0].sum(axis=1)
    l2_wr = cnt[:, :, 1].sum(axis=1)
    r["energy_total_nj"] = e.unit_nj * (e.l2_read * l2_rd + e.l2_write * l2_wr
                                        + e.l1_read * l1_rd + e.l1_write * l1_wr + e.mac * macs)
    ap = area_power.evaluate(hwb.num_pes, hwb.simd_lanes, hwb.noc_bw, r["l1_size"], r["l2_size"])
    r.update(ap)
    r["noc_bw_req"] = res["peak_bw"]
    if "avg_bw" not in skip:
        r["avg_bw_req"] = res["avg_bw"]
    if "offchip_req" not in skip:  # the physical model fills its own
        r["offchip_bw_req"] = res["offchip_req"]
    if "delays" not in skip:
        for k, name in enumerate(("ingress", "egress", "compute")):
            for s, stat in enumerate(("min", "max", "avg")):
                r[f"{name}_delay_{stat}"] = res["delays"][:, k, s]
    r["avg_utilized_pes"] = res["avg_active"]
    if "ai" not in skip:
        r["arithmetic_intensity"] = res["ai"]
    n_in, n_w = layer.tensor_elements(table)
    r["num_input_elements"] = np.full(B, n_in, dtype=np.int64)
    r["num_weight_elements"] = np.full(B, n_w, dtype=np.int64)
    r["num_pes"] = np.asarray(hwb.num_pes)
    r["simd_lanes"] = np.asarray(hwb.simd_lanes)
    flags = res["err"].copy()
    flags |= np.where(macs != expected, ERR_MACS, 0)
    # a PE does at most SIMD-lanes MACs a cycle, so MACs <= runtime x busy PEs x lanes; MAESTRO
    # breaks this where a level has two SpatialMaps (it times the first one's units only) and
    # in some edge cases (ResNet-50 CONV3_2_2: 594,433 cycles for 99,680,256 MACs on 128 PEs)
    busy = np.minimum(res["max_active"], hwb.num_pes)
    flags |= np.where(runtime * busy * hwb.simd_lanes < expected, ERR_RUNTIME, 0)
    r["flags"] = flags
    r["valid"] = flags == 0
    r["reason"] = describe_flags_array(flags)
    return r


def evaluate(layer: Layer, hardware: Hardware, dataflow: Dataflow | None = None, *,
             table: TensorTable | None = None, energy: EnergyModel = DEFAULT_ENERGY,
             area_power: AreaPowerModel = DEFAULT_AREA_POWER,
             cost_model: str = "maestro", sparsity: SparsityConfig | None = None) -> CostReport:
    """Evaluate one mapping (``dataflow`` or ``layer.dataflow``) on ``hardware``.

    This is the batch path with one candidate, so both give identical numbers.
    """
    df = dataflow if dataflow is not None else layer.dataflow
    if df is None:
        raise MappingError(f"layer {layer.name!r} has no dataflow to evaluate", rule="dataflow")
    if cost_model == "maestro" and df.l2_resident is not None:
        raise MappingError(
            f"layer {layer.name!r}: L2Resident({df.l2_resident}) is a physical-model extension "
            "(MAESTRO has no DRAM level); evaluate with the physical cost model or remove it",
            line=df.l2_resident_line, rule="l2-resident")
    sizes = np.array([[d.size for d in df.directives]], dtype=np.int64)
    offsets = np.array([[d.size if d.kind == "C" else d.offset for d in df.directives]],
                       dtype=np.int64)
    return evaluate_batch(layer, df.structure, sizes, offsets, hardware, table=table, energy=energy,
                          area_power=area_power, cost_model=cost_model,
                          l2_resident=df.l2_resident, sparsity=sparsity).row(0)


def network_tables(network: Network) -> dict[str, TensorTable]:
    """MAESTRO builds one tensor table per layer type, from the first layer of that type."""
    tables: dict[str, TensorTable] = {}
    for layer in network.layers:
        key = "CONV" if layer.type == "TRCONV" else layer.type
        if key not in tables:
            tables[key] = tensor_table(layer.type, "N" in layer.dims)
    return tables


def evaluate_network(network: Network, hardware: Hardware, **kw) -> list[CostReport]:
    """Evaluate every layer's own dataflow, with MAESTRO's per-type tensor tables."""
    tables = network_tables(network)
    out = []
    for layer in network.layers:
        table = tables["CONV" if layer.type == "TRCONV" else layer.type]
        if "N" in table.input and "N" not in layer.dims:
            raise MappingError(
                f"layer {layer.name!r} must declare N: the first {layer.type} layer of the "
                "network declares it (MAESTRO uses one tensor table per layer type)",
                rule="batch-dim")
        out.append(evaluate(layer, hardware, table=table, **kw))
    return out


def maestro_csv_energy(reports: list[CostReport], multi_level: list[bool],
                       energy: EnergyModel = DEFAULT_ENERGY) -> list[float]:
    """MAESTRO's own CSV energy: for multi-level mappings it uses the previous layer's L1 sum.

    Provided for comparison only; :attr:`CostReport.energy_nj` is the consistent definition.
    """
    out, prev_l1 = [], 0
    for rep, multi in zip(reports, multi_level):
        l1 = sum(getattr(rep, f"{t}_l1_{a}") for t in TENSORS for a in ("read", "write"))
        l2 = (rep.input_l2_read + rep.input_l2_write + rep.filter_l2_read + rep.filter_l2_write
              + rep.output_l2_write)
        # MAESTRO's top record is also its first record when nothing was recursed into
        recursed = multi and not rep.flags & ERROR_NO_VALID
        used = prev_l1 if recursed else l1
        out.append(energy.unit_nj * (energy.l2_read * l2 + energy.l1_read * used))
        prev_l1 = l1
    return out
