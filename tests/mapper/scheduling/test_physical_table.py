"""The job table under ``--cost-model physical``: latency with the core's own off-chip port
unbounded, demand = DRAM traffic (with reuse) / latency, so that the evaluator's sharing of
``--dram-bw`` is the only DRAM limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mapper.scheduling.cores import Core, CoreSetting, magma_setting
from mapper.scheduling.evaluator import makespans
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.problem import Problem, run_search
from mapper.scheduling.registry import make_strategy
from mapper.scheduling.workload import load_instance_csv
from mapper.workloads.presets import HARDWARE_PRESETS

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def jobs():
    return load_instance_csv(DATA / "small_instance.csv")


def _row(jobs, name):
    return next(i for i, j in enumerate(jobs) if j.name == name)


@pytest.mark.parametrize("setting", ["magma0", "magma3", "magma9"])
def test_latency_is_maestros_on_magma_cores(jobs, setting):
    # MAGMA's cores have no DRAM latency, so with the port unbounded the physical runtime is
    # MAESTRO's on-chip runtime, depthwise rows (K != 1 in MAGMA's CSVs) included
    s = magma_setting(int(setting[5:]))
    m = build_job_table(jobs, s)
    p = build_job_table(jobs, s, "physical")
    np.testing.assert_array_equal(p.latency, m.latency)


def test_depthwise_latency_is_its_macs_not_k_times_them(jobs):
    # row 3: DSCONV C 16, K 32, 14 x 14, 3 x 3 on one 64-wide C fold: PE 0 does all
    # 16 x 12 x 12 x 9 = 20,736 MACs; MAESTRO's runtime is one cycle more
    p = build_job_table(jobs, magma_setting(3), "physical")
    i = _row(jobs, "net3/L1/row3")
    assert jobs[i].kind == "DSCONV" and jobs[i].layer.dims["K"] == 32
    np.testing.assert_array_equal(p.latency[i], [20737.0] * 4)


def test_demand_moves_the_jobs_dram_traffic(jobs):
    # row 4: FC, K 512, C 1024: on MAGMA's (unbounded) buffers the whole layer stays in L2,
    # so it moves its weights, inputs and outputs once: 512 x 1024 + 1024 + 512 elements
    p = build_job_table(jobs, magma_setting(3), "physical")
    i = _row(jobs, "net1/L2/row4")
    np.testing.assert_allclose(p.area[i], [525824.0] * 4)
    # alone on core 0 at 8 elements/cycle the job is bandwidth-bound: 525,824 / 8 cycles
    lat, bw = p.latency[[i]], p.bw[[i]]
    assert lat[0, 0] == 513
    assert makespans(lat, bw, np.array([[0]]), np.array([[0.0]]), 8.0)[0] == \
        pytest.approx(525824 / 8, rel=1e-12)


def test_core_port_does_not_stall_inside_the_latency(jobs):
    # an edge-npu core (port 51 elements/cycle, DRAM latency 100): the FC's latency is its
    # on-chip time plus the DRAM latency, not its 525,824 elements over the core's 51/cycle
    # (that would count the transfer twice, and at the core's bandwidth, not --dram-bw)
    hw = HARDWARE_PRESETS["edge-npu"]
    s = CoreSetting("npu", (Core(hw.num_pes, "dla", 64, hw),))
    p = build_job_table(jobs, s, "physical")
    i = _row(jobs, "net1/L2/row4")
    assert 100 + 524288 / hw.num_pes <= p.latency[i, 0] < 525824 / hw.offchip_bw
    assert p.area[i, 0] == pytest.approx(525824.0)
    assert np.all(p.energy > build_job_table(jobs, s).energy)  # DRAM energy included


def test_compute_bound_makespan_matches_maestro(jobs):
    # with plenty of bandwidth both tables schedule the same on-chip latencies
    s = magma_setting(3)
    out = {}
    for cm in ("maestro", "physical"):
        problem = Problem.from_table(build_job_table(jobs, s, cm), 1000.0)
        out[cm] = run_search(problem, make_strategy("hybrid", problem, 0), 600).makespan
    assert out["physical"] == pytest.approx(out["maestro"], rel=0.01)
