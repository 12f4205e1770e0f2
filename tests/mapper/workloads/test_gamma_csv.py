"""GAMMA model CSVs: the row types as GAMMA gives them to MAESTRO, errors with file and line,
and `mapper tune` on such a file."""

from __future__ import annotations

import csv
import json

import pytest

from costmodel.errors import MaestroInputError
from mapper.cli import main
from mapper.workloads.gamma_csv import load_gamma_csv, parse_gamma_csv
from tests.reference import REF_DIR

GAMMA_DIR = REF_DIR.parents[1] / "models" / "gamma-csv"

TABLE = """K,C,Y,X,R,S,T
64,3,224,224,7,7,1
1,32,112,112,3,3,2
512,768,64,1,1,1,3
1000,2048,1,1,1,1,0
"""


def test_row_types_become_the_layers_gamma_gives_maestro():
    net = parse_gamma_csv(TABLE, "t.csv", "t")
    assert [x.name for x in net.layers] == ["L1", "L2", "L3", "L4"]
    conv, dw, gemm, fc = net.layers
    assert conv.type == "CONV" and conv.dims == dict(K=64, C=3, Y=224, X=224, R=7, S=7)
    assert conv.strides == {} or all(v == 1 for v in conv.strides.values())
    assert dw.type == "DSCONV" and dw.dims["K"] == 1 and dw.dims["C"] == 32
    # GEMM M, N, K = 512, 768, 64 -> CONV K = N, C = K, Y = M, unit filter
    assert gemm.type == "CONV" and gemm.dims == dict(K=768, C=64, Y=512, X=1, R=1, S=1)
    assert gemm.macs == 512 * 768 * 64
    assert fc.dims == dict(K=1000, C=2048, Y=1, X=1, R=1, S=1)


@pytest.mark.parametrize("text, line, message", [
    ("", None, "empty file"),
    ("K,C,Y\n1,2,3\n", 1, "expected 7 columns ending in T"),
    ("K,C,Y,X,R,S,T\n", None, "no layers after the header"),
    ("K,C,Y,X,R,S,T\n64,3,224,224,7,7\n", 2, "expected 7 columns"),
    ("K,C,Y,X,R,S,T\n64,3,22a,224,7,7,1\n", 2, "column 3 (Y): '22a' is not a number"),
    ("K,C,Y,X,R,S,T\n64,3,224.5,224,7,7,1\n", 2, "'224.5' is not an integer"),
    ("K,C,Y,X,R,S,T\n64,3,224,224,7,7,1\n64,3,224,224,7,7,5\n", 3, "unknown layer type 5"),
    ("K,C,Y,X,R,S,T\n64,0,224,224,7,7,1\n", 2, "dimensions must be positive"),
    ("K,C,Y,X,R,S,T\n64,3,5,224,7,7,1\n", 2, "filter 7x7 larger than input 5x224"),
])
def test_bad_tables_name_file_and_line(text, line, message):
    with pytest.raises(MaestroInputError) as info:
        parse_gamma_csv(text, "m.csv")
    assert message in str(info.value) and info.value.line == line
    assert str(info.value).startswith("m.csv")


@pytest.mark.skipif(not GAMMA_DIR.is_dir(), reason="../shared/models/gamma-csv not present")
def test_every_shipped_gamma_table_loads():
    for path in sorted(GAMMA_DIR.glob("*.csv")):
        with path.open() as f:
            rows = [r for r in csv.reader(f) if r][1:]
        net = load_gamma_csv(path)
        assert net.name == path.stem and len(net.layers) == len(rows), path.name
        assert all(x.macs > 0 for x in net.layers)


def test_cli_tunes_a_gamma_table(tmp_path, capsys):
    model = tmp_path / "tiny.csv"
    model.write_text("K,C,Y,X,R,S,T\n16,8,10,10,3,3,1\n1,16,8,8,3,3,2\n32,64,4,1,1,1,3\n")
    out = tmp_path / "out"
    assert main(["tune", str(model), "--budget", "60", "--out", str(out), "--no-plots",
                 "--quiet", "--jobs", "1"]) == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["layer"] for r in rows] == ["L1", "L2", "L3"]
    assert json.loads((out / "summary.json").read_text())["model"] == "tiny"
    assert main(["tune", str(tmp_path / "none.csv"), "--out", str(out)]) == 2
    assert "file not found" in capsys.readouterr().err
