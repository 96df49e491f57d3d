"""``resorb._atomic``: the one atomic writer behind reports, model files, cohort tables
and registry exports. A failure leaves the old file intact and no temporary file."""

from __future__ import annotations

import os
import stat

import pytest

from resorb._atomic import atomic_writer, write_atomic


def _no_space(*_a, **_k):
    raise OSError(28, "No space left on device")


def test_write_atomic_writes_text_and_bytes_exactly(tmp_path):
    target = tmp_path / "a.txt"
    assert write_atomic(target, "line 1\nline 2\r\n") == target
    assert target.read_bytes() == b"line 1\nline 2\r\n"
    write_atomic(target, b"\x00\xffbinary")
    assert target.read_bytes() == b"\x00\xffbinary"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize("where", ["os.replace", "os.fsync"])
def test_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, where):
    target = tmp_path / "model.json"
    target.write_text("old")
    monkeypatch.setattr(where, _no_space)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_an_error_inside_a_streaming_writer_leaves_nothing_behind(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(RuntimeError, match="mid-way"), atomic_writer(target) as fh:
        fh.write("a,b\n")
        raise RuntimeError("failed mid-way")
    assert list(tmp_path.iterdir()) == []
    with atomic_writer(target, newline="") as fh:
        fh.write("a,b\r\n")
    assert target.read_bytes() == b"a,b\r\n"


def test_new_files_get_umask_permissions_and_replacements_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = write_atomic(tmp_path / "fresh.txt", "x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not mkstemp's 0o600
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o600)
        write_atomic(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    finally:
        os.umask(umask)


def test_reports_and_cohort_writers_are_this_helper():
    """One implementation: the reports' and the cohort's writers are re-exports."""
    import resorb.reports
    from resorb.cohort import _portable

    assert resorb.reports.write_atomic is write_atomic
    assert _portable.write_atomic is write_atomic


def test_registry_cli_writer_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    from resorb.cli._registry import _write_atomic

    target = tmp_path / "new-folder" / "bundle.json"
    _write_atomic(target, b"{}")
    monkeypatch.setattr("os.replace", _no_space)
    with pytest.raises(OSError):
        _write_atomic(target, b'{"a": 1}')
    monkeypatch.undo()
    assert target.read_bytes() == b"{}"
    assert [p.name for p in target.parent.iterdir()] == ["bundle.json"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_failed_cohort_simulate_keeps_the_old_table(tmp_path, monkeypatch, capsys, suffix):
    from resorb.cli import main

    out = tmp_path / f"cohort{suffix}"
    out.write_bytes(b"old table")
    monkeypatch.setattr("os.replace", _no_space)
    with pytest.raises(SystemExit) as exc:
        main(["cohort", "simulate", "--n", "20", "--seed", "1", "--out", str(out)])
    assert exc.value.code == 2
    assert "No space" in capsys.readouterr().err
    monkeypatch.undo()
    assert out.read_bytes() == b"old table"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    main(["cohort", "simulate", "--n", "20", "--seed", "1", "--out", str(out)])
    import pandas as pd

    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(frame) == 20
