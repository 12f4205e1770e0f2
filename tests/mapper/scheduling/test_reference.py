"""Our job table and evaluator against numbers produced by running MAGMA itself.

``magma_job_table_reference.json``: MAGMA's job table (its cost-model wrapper driving the
MAESTRO binary) for ``small_instance.csv`` on four core settings, one of them flexible.
``magma_evaluator_reference.json``: job tables, schedules and the makespans MAGMA's own
evaluator gave for them (ties in priority keys, idle cores, 4 to 16 cores, light to heavy
bandwidth contention).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mapper.scheduling.cores import magma_setting
from mapper.scheduling.evaluator import simulate
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.workload import load_instance_csv

DATA = Path(__file__).parent / "data"
TABLES = json.loads((DATA / "magma_job_table_reference.json").read_text())["tables"]
CASES = json.loads((DATA / "magma_evaluator_reference.json").read_text())


@pytest.mark.parametrize("ref", TABLES, ids=[t["setting"] for t in TABLES])
def test_job_table_equals_magma_with_maestro_binary(ref):
    jobs = load_instance_csv(DATA / ref["instance"])
    jt = build_job_table(jobs, magma_setting(int(ref["setting"][5:])))
    np.testing.assert_array_equal(jt.latency, np.array(ref["latency"]))
    np.testing.assert_array_equal(jt.bw, np.array(ref["bw"]))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['instance']}-{c['setting']}" for c in CASES])
def test_makespan_equals_magma_evaluator_bit_for_bit(case):
    t = simulate(np.array(case["latency"]), np.array(case["bw"]), np.array(case["core"]),
                 np.array(case["key"]), case["dram_bw"])
    np.testing.assert_array_equal(t.makespan, np.array(case["magma_makespan"]))


def test_one_schedule_at_a_time_gives_the_batch_numbers():
    case = CASES[0]
    lat, bw = np.array(case["latency"]), np.array(case["bw"])
    batch = simulate(lat, bw, np.array(case["core"]), np.array(case["key"]), case["dram_bw"])
    for i, (c, k) in enumerate(zip(case["core"], case["key"], strict=True)):
        one = simulate(lat, bw, np.array([c]), np.array([k]), case["dram_bw"], record=True)
        assert one.makespan[0] == batch.makespan[i]
        assert one.end.max() == one.makespan[0]
