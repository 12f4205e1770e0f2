"""Atomic writes: complete files with ordinary permissions, no temporary files left behind."""

from __future__ import annotations

import os
import stat

import pytest

from mapper.atomic import write_bytes, write_text


def test_written_file_has_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "out" / "report.csv", "a,b\n")
    finally:
        os.umask(old)
    f = tmp_path / "out" / "report.csv"
    assert f.read_text() == "a,b\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    assert [p.name for p in f.parent.iterdir()] == ["report.csv"]


def test_failed_write_leaves_old_file(tmp_path):
    f = tmp_path / "x.bin"
    write_bytes(f, b"old")

    with pytest.raises(TypeError):
        write_bytes(f, "not bytes")  # type: ignore[arg-type]
    assert f.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_directory_target_names_the_target_not_a_temporary_file(tmp_path):
    (tmp_path / "dir.m").mkdir()
    with pytest.raises(IsADirectoryError) as exc:
        write_text(tmp_path / "dir.m", "x")
    assert exc.value.filename == str(tmp_path / "dir.m")
    assert list((tmp_path / "dir.m").iterdir()) == [] and len(list(tmp_path.iterdir())) == 1
