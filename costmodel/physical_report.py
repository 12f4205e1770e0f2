"""Turn a MAESTRO on-chip report into a ``physical`` one: DRAM columns, runtime, energy, bound.

The on-chip analysis ran with an unbounded off-chip port, so its runtime is the on-chip time
``T_on``; :func:`costmodel.physical.dram_model` adds the DRAM level. This module writes its
results into the report's columns and checks the physical bounds on every candidate.
"""

from __future__ import annotations

import numpy as np

from .energy import EnergyModel
from .engine.arrays import divide_quiet
from .hardware import Hardware
from .layer import Layer, TensorTable
from .levels import Level
from .physical import compulsory, dram_model
from .validity import ERR_DRAM_BOUNDS, ERR_L2_RESIDENCY, describe_flags_array

#: the report columns the physical model fills (0 under maestro)
DRAM_FIELDS = ("dram_read", "dram_write", "dram_read_input", "dram_read_weight",
               "dram_read_output", "dram_energy_nj", "dram_stall_cycles", "l2_resident",
               "l2_resident_size")


_HW_ROWS: dict[tuple, np.ndarray] = {}


def _hw_array(hardware, name: str, B: int, default) -> np.ndarray:
    """``[B]`` int64 hardware parameter ``name`` (a :class:`Hardware` field, or a mapping's
    scalar or ``[B]`` entry, ``default`` when absent). A :class:`Hardware` field's row is
    cached (read-only): a search evaluates many batches on one hardware."""
    if isinstance(hardware, Hardware):
        v = getattr(hardware, name)
        key = (v, B)
        row = _HW_ROWS.get(key)
        if row is None:
            if len(_HW_ROWS) >= 1024:
                _HW_ROWS.clear()
            row = _HW_ROWS[key] = _hw_row(v, B)
            row.setflags(write=False)
        return row
    return _hw_row(hardware.get(name, default), B)


def _hw_row(v, B: int) -> np.ndarray:
    """``[B]`` int64 row of a scalar or ``[B]`` value."""
    v = np.asarray(v)
    if v.ndim == 0:  # np.full converts like astype (unsafe casting)
        return np.full(B, v, dtype=np.int64)
    return np.broadcast_to(v, (B,)).astype(np.int64)


def runtime_is_compute(res: dict) -> np.ndarray:
    """True where the runtime is the compute time alone (no transfer delay showed)."""
    comp = res.get("compute_cycles")
    if comp is None:
        return np.zeros(len(res["runtime"]), dtype=bool)
    return res["runtime"] <= comp


_BOUND_NAMES = np.array(["compute", "noc", "dram"], dtype=object)


def _bound(compute, t_on, stall_total):
    """The largest of the three parts of the runtime: compute, the NoC's extra time and the
    DRAM's extra time (stalls and latency)."""
    noc = np.maximum(t_on - compute, 0)
    return _BOUND_NAMES[np.argmax(np.array([compute, noc, stall_total]), axis=0)]


def apply_physical(r: dict, layer: Layer, table: TensorTable, top: Level, res: dict, hardware,
                   energy: EnergyModel, l2_resident=None, sparse=None) -> None:
    """Replace runtime, throughput and energy by the physical model's, fill the DRAM
    columns, and flag residency overflows and violated physical bounds. ``sparse``
    (:class:`costmodel.sparsity.report.SparseResult`): DRAM words per dense element per tensor
    and the sparse compute time; the report's on-chip columns are already sparse."""
    B = len(r["runtime"])
    t_on = np.asarray(r["runtime"], dtype=np.int64)
    bw = _hw_array(hardware, "offchip_bw", B, 2**31 - 1)
    latency = _hw_array(hardware, "offchip_latency", B, 0)
    l2 = _hw_array(hardware, "l2_size", B, 2**31 - 1)
    scale = None if sparse is None else sparse.dram_scale
    d = dram_model(layer, table, top, t_on, bw, latency, l2, resident=l2_resident, scale=scale)
    r["runtime"] = d.runtime
    r["throughput"] = divide_quiet(r["num_macs"], d.runtime)
    r["dram_read_input"], r["dram_read_weight"] = d.read_input, d.read_weight
    r["dram_read_output"], r["dram_write"] = d.read_output, d.write
    r["dram_read"] = read = d.read
    r["dram_stall_cycles"] = d.stall
    r["l2_resident"], r["l2_resident_size"] = d.resident, d.resident_size
    e_dram = energy.unit_nj * (energy.dram_read * read + energy.dram_write * d.write)
    r["dram_energy_nj"] = e_dram
    r["energy_nj"] = r["energy_nj"] + e_dram
    r["energy_total_nj"] = r["energy_total_nj"] + e_dram
    r["offchip_bw_req"] = d.peak_bw
    compute = res.get("compute_cycles", t_on) if sparse is None else sparse.compute_cycles
    r["bound"] = _bound(np.asarray(compute), t_on, d.stall + latency)
    flags = r["flags"]
    if l2_resident is not None:
        flags = flags.copy()
        flags |= np.where(d.overflow & (d.resident > 0), ERR_L2_RESIDENCY, 0)
    n_in, n_w, n_out = compulsory(layer, table)
    if scale is not None:  # compressed tensors: compulsory words, rounding tolerated
        n_in, n_w, n_out = (np.floor(n * s - 1e-6 * n) for n, s in zip((n_in, n_w, n_out), scale))
    low = ((d.read_input < n_in) | (d.read_weight < n_w) | (d.write < n_out)
           | (d.runtime * bw < read + d.write))
    if low.any():
        flags = flags.copy() if flags is r["flags"] else flags
        flags |= np.where(low, ERR_DRAM_BOUNDS, 0)
    if flags is not r["flags"] and (flags != r["flags"]).any():
        r["flags"] = flags
        r["valid"] = flags == 0
        r["reason"] = describe_flags_array(flags)
