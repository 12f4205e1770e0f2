"""The per-core dataflow styles of MAGMA's sub-accelerators."""

from dataclasses import replace

import pytest

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate
from mapper.scheduling.templates import STYLES, template_dataflow

CONV = Layer("c", "CONV", {"K": 64, "C": 32, "R": 3, "S": 3, "Y": 16, "X": 16})
DW = Layer("d", "DSCONV", {"C": 32, "R": 3, "S": 3, "Y": 16, "X": 16})


@pytest.mark.parametrize("style", STYLES)
def test_each_style_is_a_two_level_dataflow_the_cost_model_accepts(style):
    df = template_dataflow(style, "CONV", 3, 3, 8)
    assert df.num_levels == 2 and df.cluster_sizes == (8,)
    hw = Hardware(num_pes=64, l1_size=2**12, l2_size=2**20, noc_bw=64)
    rep = evaluate(replace(CONV, dataflow=df), hw)
    assert rep.num_macs == CONV.macs and rep.runtime > 0


def test_styles_differ_in_what_they_parallelise():
    spatial = {s: {d.dim for d in template_dataflow(s, "CONV", 3, 3, 8).directives
                   if d.kind == "S"} for s in STYLES}
    assert spatial == {"dla": {"K", "C"}, "shi": {"Y'", "X'"}, "eye": {"Y'", "X'"}}


def test_depthwise_layers_use_one_c_parallel_dataflow_on_every_style():
    dfs = {template_dataflow(s, "DSCONV", 3, 3, 16) for s in STYLES}
    assert len(dfs) == 1
    (df,) = dfs
    assert df.num_levels == 1 and df.directives[0].kind == "S" and df.directives[0].dim == "C"
    assert evaluate(replace(DW, dataflow=df), Hardware(num_pes=16)).num_macs == DW.macs


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError, match="dla, shi, eye"):
        template_dataflow("tpu", "CONV", 3, 3, 8)


def test_magma_row_stationary_settings_swap_shi_for_eye():
    from mapper.scheduling.cores import resolve_setting

    v3, eye = resolve_setting("magma7"), resolve_setting("magma7-eye")
    assert [c.num_pes for c in v3.cores] == [c.num_pes for c in eye.cores]
    assert [c.style for c in eye.cores] == ["dla"] * 3 + ["eye"] * 3
    assert not eye.flexible and resolve_setting("magma17-eye").flexible
    assert [c.label() for c in resolve_setting("magma99-eye").cores] == [
        "dla4096", "eye4096", "shi4096"]
    with pytest.raises(ValueError, match="magma21-eye"):
        resolve_setting("magma21-eye")


def test_flexible_cluster_candidates_follow_magma_per_style():
    from mapper.scheduling.cores import Core
    from mapper.scheduling.job_table import _candidates
    from mapper.scheduling.workload import Job

    job = Job("j", "n", 0, "CONV", CONV)  # C 32, X 16, S 3
    assert _candidates(job, Core(2048, "dla"), True) == [64] + [1, 2, 4, 8, 16, 32]
    assert _candidates(job, Core(2048, "shi"), True) == [64] + list(range(2, 15))
    assert _candidates(job, Core(8, "shi"), True) == [64] + list(range(2, 8))
    assert _candidates(job, Core(2048, "eye"), True) == [64]
    assert _candidates(job, Core(2048, "shi"), False) == [64]
