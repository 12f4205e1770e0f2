"""Every bad input at the CLI gives one clear line on stderr, no traceback and a non-zero exit
status, before any search runs (issues 23 and 24)."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from mapper.cli import main
from mapper.cli._output import Progress

OK_YAML = ("name: ok\nlayers:\n"
           "  - {name: L1, type: CONV, dims: {K: 8, C: 4, R: 3, S: 3, Y: 8, X: 8}}\n")
GEMM_YAML = "name: g\nlayers:\n  - {name: G1, type: GEMM, dims: {M: 8, N: 8, K: 8}}\n"
MAPPING = """Network N {
Layer L1 {
Type: CONV
Dimensions { K: 8, C: 4, R: 3, S: 3, Y: 8, X: 8 }
Dataflow {
SpatialMap(1,1) K;
TemporalMap(1,1) C;
TemporalMap(Sz(R),Sz(R)) R;
TemporalMap(Sz(S),Sz(S)) S;
TemporalMap(Sz(R),1) Y;
TemporalMap(Sz(S),1) X;
}
}
}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ok.yaml").write_text(OK_YAML)
    (tmp_path / "g.yaml").write_text(GEMM_YAML)
    (tmp_path / "m.m").write_text(MAPPING)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "uni.yaml").write_bytes(b"name: \xff\xfe\n")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.m").write_text("")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "bigR.yaml").write_text(OK_YAML.replace("R: 3", "R: 30").replace("Y: 8", "Y: 10"))
    (tmp_path / "bigR.m").write_text(MAPPING.replace("R: 3", "R: 7").replace("Y: 8", "Y: 3"))
    (tmp_path / "neg.m").write_text(MAPPING.replace("K: 8", "K: -64"))
    (tmp_path / "neghw.m").write_text("num_pes: -168\n")
    (tmp_path / "dir.m").mkdir()
    return tmp_path


def _one_error(capsys, argv, rc=2, *fragments):
    got = main(argv)
    err = capsys.readouterr().err
    assert got == rc, (argv, got, err)
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, (argv, err)
    assert "Traceback" not in err and "error:" in lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


TUNE = ["--budget", "200", "--no-plots", "--quiet"]


@pytest.mark.parametrize("extra,fragment", [
    (["--jobs", "0"], "--jobs must be a positive number of processes"),
    (["--budget", "0"], "--budget must be >= 1"),
    (["--budget", "-5"], "--budget must be >= 1"),
    (["--time-limit", "0"], "--time-limit must be a finite number > 0"),
    (["--time-limit", "-3"], "--time-limit must be a finite number > 0"),
    (["--islands", "0"], "--islands must be >= 1"),
    (["--template", "foo"], "--template foo: unknown template 'foo'"),
    (["--template", "kcp_ws:T9"], "bad flexibility class 'T9'"),
    (["--strategy", "exhaustive"], "--strategy exhaustive needs an enumerable space"),
    (["--area-budget", "edge", "--hw-rounds", "0"], "--hw-rounds must be >= 1"),
    (["--area-budget", "edge", "--hw-candidates", "0"], "--hw-candidates must be >= 1"),
    (["--area-budget", "nan"], "--area-budget must be a positive number or edge/cloud"),
    (["--area-budget", "-1"], "--area-budget must be a positive number or edge/cloud"),
    (["--backend", "dask"], "--backend dask needs --scheduler"),
    (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], "cannot connect"),
    (["--storage", "garbage://x", "--strategy", "tpe"], "--storage 'garbage://x' is not a"),
    (["--hw", ""], "--hw must not be empty"),
    (["--per-layer-hw"], "--per-layer-hw needs --area-budget"),
])
def test_tune_bad_options(files, capsys, extra, fragment):
    out = files / "o"
    _one_error(capsys, ["tune", str(files / "ok.yaml"), "--out", str(out), *TUNE, *extra],
               2, fragment)
    assert not (out / "mappings.m").exists()  # nothing was searched or written


def test_tune_gemm_with_a_conv_template(files, capsys):
    _one_error(capsys, ["tune", str(files / "g.yaml"), "--template", "kcp_ws", "--out",
                        str(files / "o"), *TUNE], 2, "unknown template 'kcp_ws' for a GEMM layer")


@pytest.mark.parametrize("model,fragment", [
    ("uni.yaml", "uni.yaml:1: not UTF-8 text"),
    ("binary.yaml", "binary.yaml:2: not UTF-8 text (byte 0x80"),
    ("bigR.yaml", "layer L1: filter R=30 larger than input Y=10"),
    ("bigR.m", "layer L1: filter R=7 larger than input Y=3"),
    ("neg.m", "the size of K must be > 0, got -64"),
])
def test_tune_bad_model_files(files, capsys, model, fragment):
    _one_error(capsys, ["tune", str(files / model), "--out", str(files / "o"), *TUNE], 2,
               fragment)


@pytest.mark.parametrize("hw,fragment", [
    ("empty.m", "hardware file is empty"), ("empty.yaml", "hardware file is empty"),
    ("neghw.m", "num_pes must be a positive integer, got '-168'"),
    ("uni.yaml", "not UTF-8 text"),
])
def test_bad_hardware_files(files, capsys, hw, fragment):
    _one_error(capsys, ["tune", str(files / "ok.yaml"), "--hw", str(files / hw), "--out",
                        str(files / "o"), *TUNE], 2, fragment)
    _one_error(capsys, ["evaluate", str(files / "m.m"), "--hw", str(files / hw)], 2, fragment)


@pytest.mark.parametrize("sub,fragment", [
    ("afile", "is not a directory"), ("afile/sub", "lies under"),
])
def test_out_not_a_directory(files, capsys, sub, fragment):
    out = str(files / sub)
    _one_error(capsys, ["tune", str(files / "ok.yaml"), "--out", out, *TUNE], 2, fragment)
    _one_error(capsys, ["compare", "--quick", "--out", out], 2, fragment)
    _one_error(capsys, ["evaluate", str(files / "m.m"), "--out", f"{out}/x.csv"], 2, "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_read_only(files, capsys):
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        for argv in (["tune", str(files / "ok.yaml"), "--no-resume", *TUNE, "--out", str(ro)],
                     ["compare", "--quick", "--out", str(ro / "cmp")],
                     ["evaluate", str(files / "m.m"), "--out", str(ro / "x.csv")]):
            _one_error(capsys, argv, 2, "not writable")
    finally:
        ro.chmod(stat.S_IRWXU)


def test_out_is_a_directory_for_a_file(files, capsys):
    line = _one_error(capsys, ["evaluate", str(files / "m.m"), "--out", str(files / "dir.m")],
                      2, "is a directory")
    assert ".tmp" not in line


@pytest.mark.parametrize("extra,fragment", [
    (["--jobs", "0"], "--jobs must be a positive"), (["--budget", "0"], "--budget must be >= 1"),
    (["--time-limit", "-1"], "--time-limit must be"), (["--layers", "0"], "--layers must be"),
    (["--seeds", "0"], "--seeds must be >= 1"),
])
def test_compare_bad_options(files, capsys, extra, fragment):
    _one_error(capsys, ["compare", "--quick", "--out", str(files / "c"), *extra], 2, fragment)


@pytest.mark.parametrize("extra,fragment", [
    (["--format", "maestro-csv", "--digits", "-1"], "--digits must be >= 1"),
    (["--digits", "99"], "--digits must be <= 17"),
    (["--num_pes", "0"], "--num_pes must be >= 1"),
    (["--hw", "nonesuch"], "unknown hardware 'nonesuch'"),
])
def test_evaluate_bad_options(files, capsys, extra, fragment):
    _one_error(capsys, ["evaluate", str(files / "m.m"), *extra], 2, fragment)


def test_import_onnx_out_checked_first(files, capsys):
    _one_error(capsys, ["import-onnx", str(files / "missing.onnx"), "--out",
                        str(files / "afile" / "t.yaml")], 2, "lies under")


def test_evaluate_accepts_presets_and_warns_on_ignored_options(files, capsys):
    assert main(["evaluate", str(files / "m.m"), "--hw", "edge168", "--num_pes", "64"]) == 0
    cap = capsys.readouterr()
    assert "on 168 PEs" in cap.out and "--num_pes: no effect with --hw" in cap.err


def test_evaluate_flagged_layer_writes_csv_warns_and_exits_3(files, capsys):
    # a Y tile smaller than the filter: the consistency check flags it (MAESTRO prints
    # negative energies or NaN)
    bad = files / "flag.m"
    bad.write_text(MAPPING.replace("TemporalMap(Sz(R),1) Y", "TemporalMap(1,1) Y"))
    out = files / "x.csv"
    rc = main(["evaluate", str(bad), "--format", "maestro-csv", "--out", str(out)])
    err = capsys.readouterr().err
    if rc == 0:
        pytest.skip("this mapping is not flagged by the cost model")
    assert rc == 3 and out.read_text().count("\n") == 2
    assert [x for x in err.splitlines() if "flagged invalid" in x][0].count("layer L1") == 1
    assert "Traceback" not in err


def test_help_documents_exit_status_and_energy(capsys):
    assert main(["evaluate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 every layer valid; 3" in text and "MAESTRO" in text


def _tune_ok(files, out, *extra):
    return main(["tune", str(files / "ok.yaml"), "--out", str(out), "--budget", "200",
                 "--quiet", *extra])


def test_warnings_for_options_without_effect(files, capsys):
    assert _tune_ok(files, files / "o", "--no-plots", "--storage", "sqlite:///x.db",
                    "--scheduler", "tcp://h:1", "--islands", "1000000",
                    "--hw-candidates", "3") == 0
    err = capsys.readouterr().err
    for f in ("--storage has no effect", "--scheduler has no effect", "--islands 1000000",
              "--hw-candidates has no effect"):
        assert f in err, f


def test_huge_budget_without_time_limit_warns(files, capsys, monkeypatch):
    import mapper.cli.tune as tune

    monkeypatch.setattr(tune, "HUGE_BUDGET", 100)
    assert _tune_ok(files, files / "o", "--no-plots") == 0
    assert "add --time-limit" in capsys.readouterr().err


def test_stale_artefacts_are_removed_and_units_and_counts_written(files, capsys):
    out = files / "o"
    assert _tune_ok(files, out, "--pareto") == 0
    assert {"pareto.csv", "pareto.png", "layers.png", "convergence.png"} <= {
        p.name for p in out.iterdir()}
    assert _tune_ok(files, out, "--seed", "5", "--no-plots") == 0
    names = {p.name for p in out.iterdir()}
    assert not names & {"pareto.csv", "pareto.png", "layers.png", "convergence.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert "pareto.csv" not in summary["files"] and "totals" in summary["notes"]
    header = (out / "report.csv").read_text().splitlines()[0]
    assert "area_um2" in header and "power_mw" in header


def test_lock_stops_a_second_run(files, capsys):
    from mapper.cli._output import out_lock, prepare_out_dir

    out = prepare_out_dir(files / "o")
    with out_lock(out):
        _one_error(capsys, ["tune", str(files / "ok.yaml"), "--out", str(out), *TUNE], 2,
                   "in use by another mapper run")


def test_progress_without_a_terminal_has_no_carriage_returns():
    import io

    buf = io.StringIO()
    p = Progress(buf, tty=False)
    p.layer(0, 2, "start")
    p.layer(1, 2, "L1")
    p.message("interrupted")
    p.layer(2, 2, "L2")
    assert "\r" not in buf.getvalue() and buf.getvalue().count("\n") == 4
    tty = io.StringIO()
    p = Progress(tty, tty=True)
    p.layer(1, 2, "L1")
    p.message("mapper tune: interrupted")
    assert tty.getvalue().startswith("\r") and "\nmapper tune: interrupted\n" in tty.getvalue()


def test_interrupt_message_on_its_own_line(files, capsys, monkeypatch):
    import mapper.tuning.tuner as tuner

    def boom(*a, progress=None, **k):
        progress(0, 3, "start")
        raise KeyboardInterrupt

    monkeypatch.setattr(tuner, "tune_model", boom)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["tune", str(files / "ok.yaml"), "--out", str(files / "o"), "--budget",
                 "200"]) == 130
    err = capsys.readouterr().err
    assert "\nmapper tune: interrupted" in err


def test_out_on_a_read_only_file_system(files, capsys, monkeypatch):
    """As root a chmod does not stop writes: simulate EROFS where the probe file is made."""
    import errno

    import mapper.cli._output as output

    def erofs(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output.tempfile, "mkstemp", erofs)
    line = _one_error(capsys, ["tune", str(files / "ok.yaml"), "--no-resume", *TUNE, "--out",
                               str(files / "ro")], 2, "not writable (Read-only file system)")
    assert "--out" in line
