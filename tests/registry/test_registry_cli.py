"""`resorb registry ...` and `resorb user add`: JSON output, exit code 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import run_cli
from resorb.registry import Registry
from resorb.registry._migrate import head_revision


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    return run_cli(capsys, *argv, stdin=stdin, monkeypatch=monkeypatch)


def _one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("resorb: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0]


@pytest.fixture
def db(tmp_path, capsys, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, _ = run(capsys, monkeypatch, "registry", "init", "--db", url, "--json")
    assert code == 0
    assert json.loads(out) == {"db": url, "revision": head_revision(), "created": True}
    return url


def test_init_refuses_an_existing_registry_and_upgrade_is_idempotent(db, capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "registry", "init", "--db", db)
    assert code == 2
    _one_line_error(err, "db:", "not empty", "resorb registry upgrade")
    code, out, _ = run(capsys, monkeypatch, "registry", "upgrade", "--db", db, "--json")
    assert code == 0
    assert json.loads(out) == {
        "db": db,
        "revision_before": head_revision(),
        "revision": head_revision(),
    }


def test_commands_refuse_a_database_without_the_schema(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "missing.db"
    code, _, err = run(
        capsys,
        monkeypatch,
        "registry",
        "export",
        "--db",
        f"sqlite:///{missing}",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    _one_line_error(err, "db:", "does not exist")
    assert not missing.exists()
    code, _, err = run(
        capsys,
        monkeypatch,
        "registry",
        "export",
        "--db",
        "mysql://x/y",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    _one_line_error(err, "db:")
    # Nothing listens on port 1: an unreachable server is bad input too, and the
    # password in the URL is not echoed.
    code, _, err = run(
        capsys,
        monkeypatch,
        "registry",
        "init",
        "--db",
        "postgresql+psycopg://u:secret-pw@127.0.0.1:1/none",
    )
    assert code == 2
    _one_line_error(err, "db:", "cannot open")
    assert "secret-pw" not in err


def test_user_add_reads_the_password_from_stdin_only(db, capsys, monkeypatch):
    code, out, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "ada",
        "--db",
        db,
        "--password-stdin",
        "--role",
        "admin",
        "--json",
        stdin="a long passphrase\n",
    )
    assert code == 0, err
    assert json.loads(out) == {"id": 1, "username": "ada", "role": "admin", "active": True}
    reg = Registry(db)
    assert reg.authenticate("ada", "a long passphrase") is not None
    assert reg.authenticate("ada", "a long passphrase\n") is None
    reg.close()
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "ada",
        "--db",
        db,
        "--password-stdin",
        stdin="another passphrase\n",
    )
    assert code == 2
    _one_line_error(err, "username", "already exists")
    code, _, err = run(
        capsys, monkeypatch, "user", "add", "bob", "--db", db, "--password-stdin", stdin="short\n"
    )
    assert code == 2
    _one_line_error(err, "password", "at least 8")
    code, _, err = run(
        capsys, monkeypatch, "user", "add", "bob", "--db", db, "--password-stdin", stdin=""
    )
    assert code == 2
    _one_line_error(err, "password", "empty")
    code, _, err = run(
        capsys, monkeypatch, "user", "add", "bob", "--db", db, stdin="a long passphrase\n"
    )
    assert code == 2
    _one_line_error(err, "--password-stdin")
    code, _, err = run(
        capsys,
        monkeypatch,
        "user",
        "add",
        "bob",
        "--db",
        db,
        "--password-stdin",
        "--role",
        "root",
        stdin="a long passphrase\n",
    )
    assert code == 2
    _one_line_error(err, "role", "clinician, researcher, admin")
    # The password never appears in argv-derived output or in the registry.
    raw = Path(db[len("sqlite:///") :]).read_bytes().decode("latin-1")
    assert "passphrase" not in raw
    assert "$argon2id$" in raw


def test_seed_demo_export_import_round_trip(db, tmp_path, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "registry", "seed-demo", "--db", db, "--json")
    assert code == 0
    seeded = json.loads(out)
    assert seeded["synthetic"] is True
    assert seeded["seeded"]["patients"] == 20 and seeded["seeded"]["visits"] == 100
    code, _, err = run(capsys, monkeypatch, "registry", "seed-demo", "--db", db)
    assert code == 2
    _one_line_error(err, "demo patients")
    code, out, _ = run(
        capsys,
        monkeypatch,
        "registry",
        "export",
        "--db",
        db,
        "--out",
        str(tmp_path / "exp"),
        "--json",
    )
    assert code == 0
    assert set(json.loads(out)["files"]) == {"patients", "visits", "mri"}
    assert json.loads(out)["pseudonymised"] is False
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run(capsys, monkeypatch, "registry", "init", "--db", other)
    code, out, _ = run(
        capsys, monkeypatch, "registry", "import", str(tmp_path / "exp"), "--db", other, "--json"
    )
    assert code == 0
    assert json.loads(out)["imported"] == {
        "patients": 20,
        "visits": 100,
        "mri": seeded["seeded"]["mri"],
    }
    run(capsys, monkeypatch, "registry", "export", "--db", other, "--out", str(tmp_path / "b"))
    for name in ("patients.csv", "visits.csv", "mri.csv"):
        assert (tmp_path / "exp" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Importing the same patients again is refused as a whole.
    code, _, err = run(
        capsys, monkeypatch, "registry", "import", str(tmp_path / "exp"), "--db", other
    )
    assert code == 2
    _one_line_error(err, "patients.csv:2.pseudonym", "already exists")


def test_demo_is_reproducible_from_its_seed(tmp_path):
    from resorb.registry._csv import export_csv
    from resorb.registry._demo import seed_demo

    texts = []
    for name in ("a", "b"):
        reg = Registry(f"sqlite:///{tmp_path / name}.db")
        reg.upgrade()
        seed_demo(reg, n_patients=5, seed=11)
        export_csv(reg, tmp_path / f"exp-{name}")
        texts.append((tmp_path / f"exp-{name}" / "visits.csv").read_text())
        reg.close()
    assert texts[0] == texts[1]


def test_pseudonymised_export_drops_notes_and_shifts_dates_per_patient(
    db, tmp_path, capsys, monkeypatch
):
    import csv
    import datetime as dt

    run(capsys, monkeypatch, "registry", "seed-demo", "--db", db, "--patients", "6")
    run(capsys, monkeypatch, "registry", "export", "--db", db, "--out", str(tmp_path / "c"))
    code, out, _ = run(
        capsys,
        monkeypatch,
        "registry",
        "export",
        "--db",
        db,
        "--out",
        str(tmp_path / "r"),
        "--pseudonymised",
        "--min-site-count",
        "5",
        "--json",
    )
    assert code == 0 and json.loads(out)["pseudonymised"] is True

    def rows(folder, name):
        with open(folder / name, newline="") as fh:
            return list(csv.DictReader(fh))

    clin, res = rows(tmp_path / "c", "visits.csv"), rows(tmp_path / "r", "visits.csv")
    assert (
        "notes" not in res[0]
        and "synthetic demo visit" not in (tmp_path / "r" / "visits.csv").read_text()
    )
    shifts: dict[str, set[int]] = {}
    for a, b in zip(clin, res, strict=True):
        assert a["pseudonym"] == b["pseudonym"] and a["leg_pain_nrs"] == b["leg_pain_nrs"]
        delta = (dt.date.fromisoformat(b["date"]) - dt.date.fromisoformat(a["date"])).days
        shifts.setdefault(a["pseudonym"], set()).add(delta)
    assert all(len(s) == 1 and 0 not in s for s in shifts.values())
    assert len({next(iter(s)) for s in shifts.values()}) > 1
    sites = {r["site"] for r in rows(tmp_path / "r", "patients.csv")}
    clinical_sites = [r["site"] for r in rows(tmp_path / "c", "patients.csv")]
    assert sites <= {""} | {s for s in clinical_sites if clinical_sites.count(s) >= 5}
    # A research registry can be built from the pseudonymised files.
    research = f"sqlite:///{tmp_path / 'research.db'}"
    run(capsys, monkeypatch, "registry", "init", "--db", research)
    code, out, err = run(
        capsys, monkeypatch, "registry", "import", str(tmp_path / "r"), "--db", research, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["imported"]["patients"] == 6


def test_import_refuses_future_dates_naming_file_row_and_column(db, tmp_path, capsys, monkeypatch):
    import datetime as dt

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "patients.csv").write_text(
        "pseudonym,birth_year,sex,site,onset_date\nIMP-1,1975,female,,2026-01-02\n"
    )
    (folder / "visits.csv").write_text(
        "pseudonym,date,leg_pain_nrs\nIMP-1,2026-02-01,6\nIMP-1," + tomorrow + ",4\n"
    )
    code, _, err = run(capsys, monkeypatch, "registry", "import", str(folder), "--db", db)
    assert code == 2
    _one_line_error(err, "visits.csv:3.date", "is in the future")
    # Nothing was imported (one transaction).
    reg = Registry(db)
    try:
        assert reg.count_patients() == 0
    finally:
        reg.close()
    (folder / "visits.csv").write_text("pseudonym,date,leg_pain_nrs\nIMP-1,2026-02-01,6\n")
    (folder / "patients.csv").write_text(
        f"pseudonym,birth_year,sex,site,onset_date\nIMP-1,{dt.date.today().year + 1},female,,\n"
    )
    code, _, err = run(capsys, monkeypatch, "registry", "import", str(folder), "--db", db)
    assert code == 2
    _one_line_error(err, "patients.csv:2.birth_year", "is in the future")
