"""A registry that never locks or loses: WAL and busy timeout, private files,
no row values in errors, and backup/restore that round-trips every table.

Findings of the security review (issue 11) each have a test named after them.
The PostgreSQL half needs ``RESORB_TEST_POSTGRES_URL`` (``.ci/postgres.sh``)
and Debian's ``postgresql-client`` (pg_dump, pg_restore).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import threading
import time

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from cli_helpers import run_cli
from resorb.registry import Registry
from resorb.registry import _models as m
from resorb.registry._backup import backup_registry, restore_registry

_TODAY = dt.date.today()


def _populate(reg: Registry, actor: str) -> int:
    """One patient with a record in every table, a date offset and a second user."""
    p = reg.create_patient(
        {
            "pseudonym": "LDH-BK-1",
            "birth_year": 1975,
            "sex": "male",
            "site": "north",
            "onset_date": str(_TODAY - dt.timedelta(days=90)),
        },
        actor=actor,
    )
    v = reg.add_visit(
        p.id,
        {
            "date": str(_TODAY - dt.timedelta(days=60)),
            "leg_pain_nrs": 7,
            "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2],
            "red_flags": ["cancer_history"],
            "notes": "confidential visit note, line one\r\nline two",
        },
        actor=actor,
    )
    mri = reg.add_mri(
        p.id,
        {"date": str(_TODAY - dt.timedelta(days=59)), "volume_mm3": 1500, "level": "L4-L5"},
        actor=actor,
    )
    reg.add_mri(
        p.id,
        {
            "date": str(_TODAY - dt.timedelta(days=5)),
            "source": "diameters",
            "diameters_mm": [6.5, 9.0, 11.0],
            "level": "L4-L5",
        },
        actor=actor,
    )
    reg.add_findings(
        p.id,
        {"level": "L4-L5", "morphology": "extrusion", "msu": "2-AB"},
        mri_id=mri.id,
        actor=actor,
    )
    reg.add_findings(
        p.id, {"level": "L4-L5", "morphology": "protrusion"}, visit_id=v.id, actor=actor
    )
    reg.add_therapy(
        p.id, {"name": "nsaid", "start": str(_TODAY - dt.timedelta(days=58))}, actor=actor
    )
    reg.save_assessment(p.id, {"resorption": {"probability": 0.5}}, actor=actor)
    reg.date_offset_days(p.id, actor=actor)
    return p.id


def _dump(reg: Registry) -> dict[str, list[tuple]]:
    """Every row of every registry table (and the schema revision), in key order."""
    out = {}
    with reg.engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            cols = list(table.columns)
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
        out["alembic_version"] = [
            tuple(r) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
        ]
    return out


def test_registry_file_is_created_owner_only(tmp_path):
    path = tmp_path / "new.db"
    reg = Registry(f"sqlite:///{path}")
    reg.upgrade()
    reg.create_patient({"pseudonym": "P1", "birth_year": 1980, "sex": "female"}, actor="t")
    for f in [path, *tmp_path.glob("new.db-*")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    reg.close()


def test_sqlite_registry_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    with reg.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    reg.close()


def test_api_writes_during_a_cli_import_all_succeed_instead_of_database_is_locked(tmp_path):
    """Finding: while a CLI import ran, API writes failed with "database is locked".

    A long import (one transaction held for 1.5 s, as ``registry import`` does)
    and four writers on their own connections (web workers) at the same time:
    every write must be stored.
    """
    url = f"sqlite:///{tmp_path / 'r.db'}"
    setup = Registry(url)
    setup.upgrade()
    pid = setup.create_patient(
        {"pseudonym": "P1", "birth_year": 1980, "sex": "female"}, actor="t"
    ).id
    setup.close()
    errors: list[BaseException] = []
    started = threading.Event()

    def importer() -> None:
        reg = Registry(url)
        try:
            with reg.transaction(actor="cli:import") as s:
                s.add(m.Patient(pseudonym="IMPORTED", birth_year=1970, sex="male"))
                s.flush()
                started.set()
                time.sleep(1.5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            reg.close()

    def writer(k: int) -> None:
        reg = Registry(url)
        try:
            for i in range(10):
                reg.add_visit(
                    pid,
                    {
                        "date": str(_TODAY),
                        "leg_pain_nrs": (k + i) % 11,
                        "notes": f"writer {k} visit {i}",
                    },
                    actor="web",
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            reg.close()

    threads = [threading.Thread(target=importer)]
    threads[0].start()
    assert started.wait(10)
    threads += [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    reg = Registry(url)
    assert len(reg.list_visits(pid)) == 40
    assert reg.find_patient("IMPORTED") is not None
    reg.close()


def test_database_errors_carry_no_row_values(registry):
    """Finding: the server log printed the row values (visit notes) of a failed write."""
    with pytest.raises(IntegrityError) as info, registry.engine.begin() as conn:
        conn.execute(
            insert(m.Visit).values(
                patient_id=987654, date=_TODAY, red_flags=[], notes="SECRET-NOTE-TEXT"
            )
        )
    assert "SECRET-NOTE-TEXT" not in str(info.value)
    assert "parameters hidden" in str(info.value)


def test_backup_and_restore_round_trip_every_table(registry, clinician, backend, tmp_path):
    """Finding: the CSV export is not a backup (findings, therapies, assessments,
    users and date offsets were lost). ``registry backup`` then ``restore``
    must give back every row of every table, byte for byte."""
    if backend == "postgres" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed (Debian package postgresql-client)")
    _populate(registry, clinician)
    before = _dump(registry)
    assert all(
        before[t]
        for t in ("findings", "therapy_courses", "assessments", "users", "date_shifts", "audit_log")
    )
    out = tmp_path / "registry.backup"
    info = backup_registry(registry, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert info["counts"]["patients"] == 1 and info["counts"]["date_shifts"] == 1
    if backend == "sqlite":
        target = Registry(f"sqlite:///{tmp_path / 'restored.db'}")
    else:
        with registry.engine.begin() as conn:  # lose everything, then restore
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        target = registry
    restored = restore_registry(target, out)
    assert restored["counts"] == info["counts"]
    assert _dump(target) == before
    # The restored registry works: a new write gets a fresh id after the old ones.
    pid = target.find_patient("LDH-BK-1").id
    v = target.add_visit(pid, {"date": str(_TODAY), "leg_pain_nrs": 3}, actor=clinician)
    assert v.id > max(r[0] for r in before["visits"])
    if target is not registry:
        target.close()


def test_registry_backup_and_restore_commands(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    reg = Registry(db)
    reg.upgrade()
    _populate(reg, "cli")
    before = _dump(reg)
    reg.close()
    out = tmp_path / "b.sqlite"
    code, stdout, _ = run_cli(capsys, "registry", "backup", str(out), "--db", db, "--json")
    assert code == 0 and '"format": "sqlite"' in stdout
    new = f"sqlite:///{tmp_path / 'new.db'}"
    code, _, err = run_cli(capsys, "registry", "restore", str(out), "--db", new, "--json")
    assert code == 0, err
    reg = Registry(new)
    assert _dump(reg) == before
    reg.close()
    # A registry that holds data is replaced only with --force; one line, exit 2.
    code, _, err = run_cli(capsys, "registry", "restore", str(out), "--db", new)
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "registry", "restore", str(out), "--db", new, "--force")
    assert code == 0, err


def test_restore_refuses_a_file_that_is_not_a_registry_backup(tmp_path, capsys):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("patient notes\n")
    other = tmp_path / "other.sqlite"
    import sqlite3

    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    db = f"sqlite:///{tmp_path / 'target.db'}"
    for f in (bogus, other, tmp_path / "missing.backup"):
        code, _, err = run_cli(capsys, "registry", "restore", str(f), "--db", db)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "backup" in err


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_backup_of_a_world_readable_umask_is_still_private(tmp_path, monkeypatch):
    old = os.umask(0)
    try:
        reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
        reg.upgrade()
        out = tmp_path / "b.sqlite"
        backup_registry(reg, out)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "r.db").stat().st_mode) == 0o600
        reg.close()
    finally:
        os.umask(old)


_FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "'kept quote",
    "tab\tinside",
    "line one\r\nline two",
    "plain note",
]


def test_csv_export_escapes_formula_cells_and_keeps_line_endings(tmp_path):
    """Finding: CSV export wrote formula cells unescaped. Every free-text cell that a
    spreadsheet would run as a formula starts with a quote; import reads the
    notes back exactly (CR LF inside a note included)."""
    import csv

    from resorb.registry import export_csv, import_csv

    reg = Registry(f"sqlite:///{tmp_path / 'a.db'}")
    reg.upgrade()
    p = reg.create_patient(
        {"pseudonym": "CSV-1", "birth_year": 1980, "sex": "female", "site": "=1+2"}, actor="t"
    )
    for i, note in enumerate(_FORMULAS):
        reg.add_visit(
            p.id,
            {"date": str(_TODAY - dt.timedelta(days=i)), "notes": note, "joa_total": -3},
            actor="t",
        )
    files = export_csv(reg, tmp_path / "out")
    reg.close()
    with open(files["visits"], newline="", encoding="utf-8") as fh:
        cells = [row[-1] for row in csv.reader(fh)][1:]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'=HYPERLINK" in " ".join(cells)
    with open(files["patients"], newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh))[1][3] == "'=1+2"
    with open(files["visits"], newline="", encoding="utf-8") as fh:
        assert [row[6] for row in csv.reader(fh)][1:] == ["-3"] * len(_FORMULAS)  # numbers kept
    back = Registry(f"sqlite:///{tmp_path / 'b.db'}")
    back.upgrade()
    import_csv(back, tmp_path / "out", actor="t")
    q = back.find_patient("CSV-1")
    assert q.site == "=1+2"
    assert sorted(v.notes for v in back.list_visits(q.id)) == sorted(n.strip() for n in _FORMULAS)
    back.close()


def test_login_state_is_kept_in_the_database_on_both_backends(registry, clinician):
    """Throttle, known sources, sessions and revocations work on SQLite and PostgreSQL
    (shared by every web worker and instance)."""
    from resorb.registry import AuthState, ThrottlePolicy

    auth = AuthState(registry.engine)
    policy = ThrottlePolicy(free_failures=1, base_delay_s=2, max_delay_s=10, window_s=100)
    keys = {"pair": "pair:dr_ada|10.0.0.1", "src": "src:10.0.0.1", "acct": "acct:dr_ada"}
    args = dict(
        username="dr_ada",
        source="10.0.0.1",
        pair_key=keys["pair"],
        source_key=keys["src"],
        account_key=keys["acct"],
        known_max_age_s=1000,
    )
    assert auth.precheck(now_s=0, **args)[1].username == "dr_ada"
    for _ in range(2):
        auth.failed(dict.fromkeys(keys.values(), policy), now_s=10)
    wait, user = auth.precheck(now_s=11, **args)
    assert wait == 1 and user is None  # blocked until 12: 2 s after the second failure
    assert auth.password_matches("dr_ada", "correct horse battery")
    assert not auth.password_matches("dr_ada", "wrong password!")
    auth.succeeded(pair_key=keys["pair"], username="dr_ada", source="10.0.0.1", now_s=12)
    assert auth.is_known_source("dr_ada", "10.0.0.1", now_s=13, max_age_s=100)
    sid = auth.create_session("dr_ada", now_s=20)
    assert auth.session_user(sid, now_s=30, idle_s=100, absolute_s=1000) == "dr_ada"
    assert auth.session_user(sid, now_s=200, idle_s=100, absolute_s=1000) is None  # idle
    sid = auth.create_session("dr_ada", now_s=300)
    registry.set_user_active("dr_ada", False, actor="dr_ada")
    assert auth.session_user(sid, now_s=301, idle_s=100, absolute_s=1000) is None
    auth.revoke_token("jti-1", expires_s=500)
    auth.revoke_token("jti-1", expires_s=500)  # twice is fine
    assert auth.token_revoked("jti-1") and not auth.token_revoked("jti-2")
    auth.sweep(now_s=10_000, older_than_s=100)
    assert not auth.token_revoked("jti-1")


def test_csv_with_a_bare_carriage_return_in_a_cell_is_refused_on_one_line(tmp_path, capsys):
    """Fuzz finding (campaign seed 12003457): a bare CR inside an unquoted cell
    raised csv.Error, reported as an internal error (exit 1)."""
    db = f"sqlite:///{tmp_path / 'r.db'}"
    Registry(db).upgrade()
    (tmp_path / "patients.csv").write_bytes(
        b"pseudonym,birth_year,sex,site,onset_date\nP-1,1980,fe\rmale,,\n"
    )
    code, _, err = run_cli(capsys, "registry", "import", str(tmp_path / "patients.csv"), "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "patients.csv:2" in err


def test_control_characters_quoted_in_a_refusal_are_escaped(tmp_path, capsys):
    """Fuzz finding (campaign seed 12009562): a column name holding \\x1d (a line
    separator for str.splitlines) made the refusal two lines; an ANSI escape
    would reach the terminal."""
    db = f"sqlite:///{tmp_path / 'r.db'}"
    Registry(db).upgrade()
    (tmp_path / "patients.csv").write_text(
        "pseudonym,birth_year,sex,site,bad\x1dname\x1b[31m\nP-1,1980,female,,\n"
    )
    code, _, err = run_cli(capsys, "registry", "import", str(tmp_path / "patients.csv"), "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "\x1b" not in err and "\x1d" not in err and "\\x1d" in err
