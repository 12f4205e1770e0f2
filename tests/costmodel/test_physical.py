"""The physical model: physical bounds, monotonicity in bandwidth, compulsory traffic when the
layer fits the L2, and MAESTRO's runtime wherever the DRAM never binds (reference set)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate, evaluate_batch
from costmodel.errors import MappingError
from costmodel.hardware import INT_MAX
from costmodel.layer import tensor_table
from costmodel.physical import compulsory
from costmodel.validity import ERR_BUSIEST_PE, ERR_DRAM_BOUNDS, ERR_L2_RESIDENCY
from tests import reference as ref

CONV = Layer("conv", "CONV", {"K": 64, "C": 32, "R": 3, "S": 3, "Y": 30, "X": 30})
CONV_S2 = Layer("conv_s2", "CONV", {"K": 32, "C": 16, "R": 3, "S": 3, "Y": 33, "X": 33},
                strides={"Y": 2, "X": 2})
GEMM = Layer("gemm", "GEMM", {"M": 96, "N": 200, "K": 72})
DSCONV = Layer("dw", "DSCONV", {"C": 48, "R": 3, "S": 3, "Y": 20, "X": 20})

STRUCTURES = {
    "conv": [("T", "K"), ("S", "C"), ("T", "Y"), ("T", "X"), ("T", "R"), ("T", "S")],
    "conv_os": [("S", "Y"), ("T", "X"), ("T", "K"), ("T", "C"), ("T", "R"), ("T", "S"),
                ("C", ""), ("T", "Y"), ("S", "X")],
    "gemm": [("T", "M"), ("S", "N"), ("T", "K")],
    "gemm_kmn": [("T", "K"), ("T", "M"), ("S", "N")],
    "dw": [("S", "C"), ("T", "Y"), ("T", "X"), ("T", "R"), ("T", "S")],
}
CASES = [(CONV, "conv"), (CONV_S2, "conv"), (CONV, "conv_os"), (GEMM, "gemm"),
         (GEMM, "gemm_kmn"), (DSCONV, "dw")]


def _random_batch(layer: Layer, structure, rng, B=150):
    """Random legal-ish sizes/offsets: tiles within the dim, offsets <= size."""
    dims = layer.full_dims()
    sizes = np.empty((B, len(structure)), dtype=np.int64)
    offsets = np.empty_like(sizes)
    for j, (kind, dim) in enumerate(structure):
        if kind == "C":
            sizes[:, j] = rng.integers(1, 5, B)
            offsets[:, j] = sizes[:, j]
            continue
        D = dims[dim]
        if dim in ("R", "S") or layer.stride(dim) > 1:  # MAESTRO needs whole strided rows
            sizes[:, j] = D
            offsets[:, j] = D
            continue
        lo = dims.get({"Y": "R", "X": "S"}.get(dim, ""), 1)
        s = rng.integers(lo, D + 1, B)
        sizes[:, j] = s
        if dim in ("Y", "X"):  # whole output rows per tile, stride-aligned
            st = layer.stride(dim)
            offsets[:, j] = ((s - lo) // st + 1) * st
        else:
            offsets[:, j] = s
    return sizes, offsets


def _hw(bw, l2=100_000, latency=0):
    return Hardware(num_pes=64, l1_size=4096, l2_size=l2, noc_bw=64, offchip_bw=bw,
                    offchip_latency=latency)


@pytest.mark.parametrize("layer,name", CASES, ids=[f"{a.name}-{b}" for a, b in CASES])
def test_physical_bounds_hold_on_every_candidate(layer, name):
    rng = np.random.default_rng(7)
    structure = STRUCTURES[name]
    sizes, offsets = _random_batch(layer, structure, rng)
    table = tensor_table(layer.type, False)
    n_in, n_w, n_out = compulsory(layer, table)
    for bw in (1, 4, 64):
        r = evaluate_batch(layer, structure, sizes, offsets, _hw(bw), cost_model="physical")
        assert not (r["flags"] & ERR_DRAM_BOUNDS).any()
        ok = r["valid"]
        # MAESTRO miscounts MACs of these strided tiles (flagged): the DRAM bounds still hold
        assert ok.sum() > 10 or layer is CONV_S2
        bound = -(-layer.macs // 64)
        assert (r["runtime"][ok] >= bound).all()
        assert (r["runtime"] * bw >= r["dram_read"] + r["dram_write"]).all()
        assert (r["dram_read_input"] >= n_in).all() and (r["dram_read_weight"] >= n_w).all()
        assert (r["dram_write"] >= n_out).all()
        assert set(r["bound"]) <= {"compute", "noc", "dram"}
        assert set(r["cost_model"]) == {"physical"}


@pytest.mark.parametrize("layer,name", CASES, ids=[f"{a.name}-{b}" for a, b in CASES])
def test_runtime_does_not_fall_as_bandwidth_falls(layer, name):
    rng = np.random.default_rng(11)
    structure = STRUCTURES[name]
    sizes, offsets = _random_batch(layer, structure, rng)
    prev = None
    for bw in (4096, 256, 16, 4, 1):
        for resident in (None, 0):
            r = evaluate_batch(layer, structure, sizes, offsets, _hw(bw, latency=10),
                               cost_model="physical", l2_resident=resident)
            if resident is None:
                if prev is not None:
                    assert (r["runtime"] >= prev).all()
                prev = r["runtime"]


@pytest.mark.parametrize("layer,name", CASES, ids=[f"{a.name}-{b}" for a, b in CASES])
def test_equals_maestro_where_dram_does_not_bind(layer, name):
    rng = np.random.default_rng(3)
    structure = STRUCTURES[name]
    sizes, offsets = _random_batch(layer, structure, rng)
    hw = _hw(INT_MAX)
    m = evaluate_batch(layer, structure, sizes, offsets, hw)
    p = evaluate_batch(layer, structure, sizes, offsets, hw, cost_model="physical")
    assert (p["dram_stall_cycles"] == 0).all()
    # MAESTRO's runtime, raised to the busiest PE's work where MAESTRO reports less
    below = (m["flags"] & ERR_BUSIEST_PE) != 0
    np.testing.assert_array_equal(p["runtime"][~below], m["runtime"][~below])
    assert (p["runtime"][below] > m["runtime"][below]).all()
    # finite bandwidth: where nothing stalls, still that on-chip runtime
    p1 = evaluate_batch(layer, structure, sizes, offsets, _hw(2), cost_model="physical")
    calm = p1["dram_stall_cycles"] == 0
    np.testing.assert_array_equal(p1["runtime"][calm], p["runtime"][calm])
    assert (p1["runtime"][~calm] > m["runtime"][~calm]).all()


@pytest.mark.parametrize("layer,name", CASES, ids=[f"{a.name}-{b}" for a, b in CASES])
def test_traffic_is_compulsory_when_the_layer_fits_l2(layer, name):
    rng = np.random.default_rng(5)
    structure = STRUCTURES[name]
    sizes, offsets = _random_batch(layer, structure, rng, B=60)
    r = evaluate_batch(layer, structure, sizes, offsets, _hw(8, l2=10**9), cost_model="physical")
    n_in, n_w, n_out = compulsory(layer, tensor_table(layer.type, False))
    # sliding tiles may cover a few unused rows at the edge; never fewer than the tensor
    assert (r["dram_read_input"] >= n_in).all()
    full = r["dram_read_input"] <= n_in * 1.0001
    assert full.mean() > 0.9
    assert (r["dram_read_weight"] == n_w).all()
    assert (r["dram_write"] == n_out).all() and (r["dram_read_output"] == 0).all()


def test_stated_residency_that_overflows_l2_is_flagged():
    sizes = np.array([[8, 1, 72]])
    offsets = sizes.copy()
    r = evaluate_batch(GEMM, STRUCTURES["gemm"], sizes, offsets, _hw(4, l2=1000),
                       cost_model="physical", l2_resident=3)
    assert r["flags"][0] & ERR_L2_RESIDENCY and not r["valid"][0]
    r = evaluate_batch(GEMM, STRUCTURES["gemm"], sizes, offsets, _hw(4, l2=1000),
                       cost_model="physical")
    assert r["valid"][0] and r["l2_resident_size"][0] <= 1000


def test_maestro_model_rejects_a_residency_level():
    with pytest.raises(MappingError, match="physical"):
        evaluate_batch(GEMM, STRUCTURES["gemm"], [[8, 1, 72]], [[8, 1, 72]], _hw(4),
                       l2_resident=1)


def test_partial_sums_spill_when_a_reduction_loop_is_outermost():
    # K (reduction) outside M: every output tile is revisited n_K times
    sizes = np.array([[8, 8, 1]])
    r = evaluate_batch(GEMM, STRUCTURES["gemm_kmn"], sizes, sizes, _hw(4, l2=200),
                       cost_model="physical", l2_resident=0)
    n_out = GEMM.dims["M"] * GEMM.dims["N"]
    assert r["dram_write"][0] == n_out * 9 and r["dram_read_output"][0] == n_out * 8


def test_dram_energy_and_latency_are_counted():
    sizes = np.array([[8, 1, 72]])
    lo = evaluate_batch(GEMM, STRUCTURES["gemm"], sizes, sizes, _hw(64), cost_model="physical")
    hi = evaluate_batch(GEMM, STRUCTURES["gemm"], sizes, sizes, _hw(64, latency=500),
                        cost_model="physical")
    assert hi["runtime"][0] == lo["runtime"][0] + 500
    assert lo["dram_energy_nj"][0] > 0
    m = evaluate_batch(GEMM, STRUCTURES["gemm"], sizes, sizes, _hw(64))
    assert lo["energy_nj"][0] == pytest.approx(m["energy_nj"][0] + lo["dram_energy_nj"][0])


@pytest.mark.skipif(not ref.HAVE_REFERENCE, reason=ref.SKIP_REASON)
def test_reference_set_physical_equals_maestro_without_dram_limits():
    """Every 25th reference row (``benchmarks/check_physical.py`` runs them all): with an
    unbounded off-chip port, physical == maestro; at the row's own hardware, wherever the
    DRAM never stalls, physical == maestro's on-chip runtime."""
    n = n_calm = 0
    for r in ref.rows()[::25]:
        try:
            layer, hw = ref.layer_of(r), ref.hardware_of(r)
        except Exception:  # rows MAESTRO could not parse are not mappings
            continue
        inf = dataclasses.replace(hw, offchip_bw=INT_MAX)
        m = evaluate(layer, inf)
        if not m.valid:
            continue
        assert evaluate(layer, inf, cost_model="physical").runtime == m.runtime, r["case_id"]
        p = evaluate(layer, hw, cost_model="physical")
        assert p.runtime >= m.runtime
        if p.dram_stall_cycles == 0:
            assert p.runtime == m.runtime
            n_calm += 1
        n += 1
    assert n > 400 and n_calm > 40


def test_l2_resident_extension_round_trips_and_maestro_names_its_line(tmp_path):
    from costmodel import Network
    from costmodel.io import load_network, parse_dataflow
    from costmodel.io.maestro import format_mapping

    df = parse_dataflow("SpatialMap(1,1) N; TemporalMap(8,8) M; TemporalMap(72,72) K; "
                        "L2Resident(2)")
    assert df.l2_resident == 2 and str(df).endswith("L2Resident(2)")
    path = tmp_path / "m.m"
    path.write_text(format_mapping(Network("n", [dataclasses.replace(GEMM, dataflow=df)])))
    layer = load_network(path).layers[0]
    assert layer.dataflow == df
    rep = evaluate(layer, _hw(4, l2=10**6), cost_model="physical")
    assert rep.l2_resident == 2
    with pytest.raises(MappingError, match=r"line 9: .*L2Resident\(2\) is a physical-model"):
        evaluate(layer, _hw(4))
    plain = dataclasses.replace(df, l2_resident=None)
    assert "L2Resident" not in format_mapping(
        Network("n", [dataclasses.replace(GEMM, dataflow=plain)]))


def test_a_chosen_residency_written_as_a_comment_evaluates_the_same():
    """A search result's L2Resident is the physical model's own choice: written as a `//`
    comment the file parses under `maestro` and re-derives the same choice under
    `physical`."""
    from costmodel import Network
    from costmodel.io import parse_dataflow, parse_mapping
    from costmodel.io.maestro import format_mapping

    hw = _hw(4, l2=10**6)
    df = parse_dataflow("SpatialMap(1,1) N; TemporalMap(8,8) M; TemporalMap(72,72) K")
    chosen = evaluate(GEMM, hw, df, cost_model="physical")
    assert chosen.l2_resident is not None
    pinned = dataclasses.replace(df, l2_resident=int(chosen.l2_resident))
    text = format_mapping(Network("n", [dataclasses.replace(GEMM, dataflow=pinned)]),
                          residency_as_comment=True)
    assert f"// L2Resident({chosen.l2_resident});" in text
    assert not [x for x in text.splitlines() if x.strip().startswith("L2Resident")]
    layer = parse_mapping(text).layers[0]
    assert layer.dataflow.l2_resident is None
    evaluate(layer, hw)  # MAESTRO's model accepts it
    again = evaluate(layer, hw, cost_model="physical")
    assert (again.runtime, again.energy_nj, again.l2_resident) == \
        (chosen.runtime, chosen.energy_nj, chosen.l2_resident)


def test_l2_resident_in_the_yaml_form(tmp_path):
    from costmodel import Network
    from costmodel.io import load_network, parse_dataflow
    from costmodel.io.yaml_io import save_network_yaml

    df = parse_dataflow("SpatialMap(1,1) N; TemporalMap(8,8) M; TemporalMap(72,72) K; "
                        "L2Resident(1)")
    path = tmp_path / "m.yaml"
    save_network_yaml(Network("n", [dataclasses.replace(GEMM, dataflow=df)]), path)
    assert "l2_resident: 1" in path.read_text()
    assert load_network(path).layers[0].dataflow == df
    path.write_text(path.read_text().replace("l2_resident: 1", "l2_resident: -1"))
    with pytest.raises(MappingError.__mro__[1], match="l2_resident"):
        load_network(path)
