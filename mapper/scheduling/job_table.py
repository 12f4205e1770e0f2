"""The job table: each job's latency, off-chip bandwidth demand and energy on each core.

With MAGMA's formulas a job's demand is ``l2_size / 2 / (runtime - 1)`` elements per cycle
(its whole L2 footprint streamed in over its run), the latency is the cost model's runtime
under MAGMA's MAESTRO options, and a flexible setting picks, per job and core, the
fastest cluster size among MAGMA's candidates (the divisors of C on ``dla`` cores, 2 ..
X - S + 1 on ``shi`` cores; capped by L2 at 2 MiB), as MAGMA does.

With the ``physical`` cost model the evaluator's bandwidth sharing is the only place DRAM
bandwidth limits a job: the latency is the physical model's runtime with the core's own
off-chip port unbounded (on-chip time, plus the core's DRAM latency), the demand is the
job's DRAM traffic with reuse (reads, partial-sum read-backs and writes) over that latency,
so ``latency x demand`` is exactly the data it moves, and the energy includes DRAM energy.
A port limit inside the latency as well would count every stall twice, and at the core's
own bandwidth rather than ``--dram-bw``.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

import numpy as np

from costmodel.analysis import evaluate_batch
from costmodel.errors import MaestroInputError
from costmodel.validity import ERR_OCC_WRAP, ERR_PES, ERR_UNIQUE_ZERO, ERR_ZERO_COMPUTE

from .cores import Core, CoreSetting
from .templates import template_dataflow
from .workload import Job

#: results the MAESTRO binary cannot produce (it aborts) or produces from a wrapped 32-bit
#: occurrence count (a loop case 2^31+ times): the job does not fit that core
FATAL = ERR_PES | ERR_UNIQUE_ZERO | ERR_ZERO_COMPUTE | ERR_OCC_WRAP
MAX_L2 = 2 * 1024 * 1024  #: MAGMA's L2 cap for the cluster sizes it tries
UNBOUNDED_BW = 2**31 - 1  #: a core's own off-chip port under ``physical`` (never stalls)
_HAS_COST_MODEL = "cost_model" in inspect.signature(evaluate_batch).parameters


@dataclass
class JobTable:
    """Per (job, core): ``latency`` cycles, ``bw`` elements/cycle, ``energy`` nJ, ``cluster``."""

    jobs: list[Job]
    setting: CoreSetting
    latency: np.ndarray
    bw: np.ndarray
    energy: np.ndarray
    cluster: np.ndarray
    cost_model: str = "maestro"

    @property
    def shape(self) -> tuple[int, int]:
        return self.latency.shape

    @property
    def area(self) -> np.ndarray:
        """Data each job moves on each core (latency x demand), MAGMA's 'AUC'."""
        return self.latency * self.bw


def demand(l2_size: np.ndarray, runtime: np.ndarray) -> np.ndarray:
    """MAGMA's required off-chip bandwidth of a job (float64, same operation order)."""
    l2 = np.asarray(l2_size, dtype=np.float64)
    rt = np.asarray(runtime, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return l2 / 2 / np.maximum(rt - 1, 1e-300)


def physical_demand(dram_traffic: np.ndarray, runtime: np.ndarray) -> np.ndarray:
    """Required off-chip bandwidth under ``physical``: DRAM elements moved (reads and writes,
    with reuse) per cycle of the job's unstalled runtime."""
    tr = np.asarray(dram_traffic, dtype=np.float64)
    rt = np.asarray(runtime, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return tr / np.maximum(rt, 1e-300)


def cost_layer(layer, cost_model: str):
    """The layer as the job table evaluates it. Under ``physical`` a depthwise layer's K is
    set to 1: no tensor of a depthwise layer has K (MAESTRO's MACs and traffic ignore it),
    but the physical model's busiest-PE floor (``costmodel.busiest_pe``) multiplies it in,
    which makes MAGMA's depthwise rows (K != 1) K times slower than their MACs."""
    if cost_model != "physical" or layer.type != "DSCONV" or layer.dims.get("K", 1) == 1:
        return layer
    return dataclasses.replace(layer, dims={**layer.dims, "K": 1})


def table_hardware(core: Core, cost_model: str):
    """The hardware a job-table entry is evaluated on: the core's, with its own off-chip port
    unbounded under ``physical`` (the schedule evaluator shares ``--dram-bw``)."""
    hw = core.hw()
    if cost_model == "physical":
        hw = dataclasses.replace(hw, offchip_bw=UNBOUNDED_BW)
    return hw


def _hw_batch(cores: list[Core], cost_model: str = "maestro") -> dict:
    hws = [table_hardware(c, cost_model) for c in cores]
    keys = ("num_pes", "noc_bw", "noc_latency", "offchip_bw", "simd_lanes")
    if cost_model == "physical":  # the DRAM level reads the L2 size and the DRAM latency
        keys += ("l2_size", "offchip_latency")
    return {k: np.array([getattr(h, k) for h in hws], dtype=np.int64) for k in keys}


def _evaluate(job: Job, cores: list[Core], clusters: list[int], cost_model: str):
    """One batched cost-model call: ``job`` on each (core, cluster) pair."""
    layer = cost_layer(job.layer, cost_model)
    d = layer.full_dims()
    dfs = [template_dataflow(c.style, layer.type, d["R"], d["S"], k)
           for c, k in zip(cores, clusters, strict=True)]
    sizes = np.array([[x.size for x in df.directives] for df in dfs], dtype=np.int64)
    offs = np.array([[x.size if x.kind == "C" else x.offset for x in df.directives]
                     for df in dfs], dtype=np.int64)
    kw = {"cost_model": cost_model} if _HAS_COST_MODEL else {}
    rep = evaluate_batch(layer, dfs[0].structure, sizes, offs, _hw_batch(cores, cost_model),
                         **kw)
    fatal = (rep["flags"] & FATAL) != 0
    lat = np.where(fatal, np.inf, rep["runtime"].astype(np.float64))
    if cost_model == "physical":
        bw = physical_demand(rep["dram_read"] + rep["dram_write"], rep["runtime"])
    else:
        bw = demand(rep["l2_size"], rep["runtime"])
    return lat, bw, rep["energy_nj"], rep["l2_size"]


def _candidates(job: Job, core: Core, flexible: bool) -> list[int]:
    """Cluster sizes tried: the core's own, then on a flexible setting MAGMA's alternatives:
    each divisor of C below the PE count on a ``dla`` core, 2 .. X - S + 1 (below the PE
    count) on a ``shi`` core, none on an ``eye`` core."""
    out = [core.cluster]
    if flexible and core.style == "dla":
        c = job.layer.dims["C"]
        out += [k for k in range(1, min(c + 1, core.num_pes)) if c % k == 0]
    elif flexible and core.style == "shi":
        d = job.layer.full_dims()
        out += list(range(2, min(d["X"] - d["S"] + 2, core.num_pes)))
    return out


def _job_row(job: Job, setting: CoreSetting, cost_model: str):
    """(latency, bw, energy, cluster) of one job on every core."""
    pairs = [(i, k) for i, core in enumerate(setting.cores)
             for k in _candidates(job, core, setting.flexible)]
    n = len(setting.cores)
    out = np.full((4, n), np.inf)
    by_style: dict[tuple, list[int]] = {}
    for p, (i, _) in enumerate(pairs):
        style = "dpt" if job.layer.type == "DSCONV" else setting.cores[i].style
        by_style.setdefault((style,), []).append(p)
    res = np.zeros((len(pairs), 4))
    for idx in by_style.values():
        cores = [setting.cores[pairs[p][0]] for p in idx]
        lat, bw, en, l2 = _evaluate(job, cores, [pairs[p][1] for p in idx], cost_model)
        res[idx] = np.stack([lat, bw, en, l2], axis=1)
    first = {}
    for p, (i, k) in enumerate(pairs):
        lat, bw, en, l2 = res[p]
        if i in first and l2 > MAX_L2:
            lat = np.inf  # MAGMA drops a tried cluster size whose L2 exceeds 2 MiB
        rank = (lat, bw, -1 if i in first else len(pairs))
        if i not in first or rank < first[i][0]:
            first[i] = (rank, (lat, bw, en, k))
    for i, (_, vals) in first.items():
        out[:, i] = vals
    return out


def build_job_table(jobs: list[Job], setting: CoreSetting,
                    cost_model: str = "maestro") -> JobTable:
    """Evaluate every job on every core (identical layer shapes are evaluated once)."""
    cache: dict[tuple, np.ndarray] = {}
    rows = []
    for job in jobs:
        key = (job.layer.shape_key(),)
        if key not in cache:
            cache[key] = _job_row(job, setting, cost_model)
        row = cache[key]
        if not np.isfinite(row[0]).any():
            raise MaestroInputError(f"job {job.name} ({job.kind} {job.layer.dims}) fits no core "
                                    f"of setting {setting.name}", source=job.source or None,
                                    rule="job-fits-no-core")
        rows.append(row)
    t = np.stack(rows)  # [J, 4, C]
    return JobTable(jobs, setting, t[:, 0].copy(), t[:, 1].copy(), t[:, 2].copy(),
                    t[:, 3].astype(np.int64), cost_model)
