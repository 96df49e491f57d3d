"""``resorb serve``: migrations, the demo registry and login, loopback by default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from _server import free_port

from resorb.cli._web import DEMO_USER, _is_loopback, prepare_demo
from resorb.registry import Registry


def _resorb() -> list[str]:
    return [sys.executable, "-c", "from resorb.cli import main; main()"]


def _start_demo_and_log_in(tmp_path) -> str:
    """``resorb serve --demo`` in ``tmp_path``: read the printed login, use it, stop."""
    port = free_port()
    env = {**os.environ, "RESORB_SECRET_KEY": ""}
    proc = subprocess.Popen(
        [*_resorb(), "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        lines = []
        deadline = time.monotonic() + 60
        password = None
        while time.monotonic() < deadline and password is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"Demo login: user 'demo', password '([^']+)'", line)
            if m:
                password = m.group(1)
        assert password, "".join(lines)
        assert any(f"{base}/" in ln for ln in lines)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        tok = httpx.post(
            f"{base}/api/token", data={"username": DEMO_USER, "password": password}
        ).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        listing = httpx.get(f"{base}/api/patients", headers=h).json()
        assert listing["total"] == 20
        assert all(p["pseudonym"].startswith("DEMO-") for p in listing["patients"])
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
    return password


def test_serve_demo_from_an_empty_directory(tmp_path):
    """What the README's run command does on a fresh clone: migrate, seed, print the login."""
    _start_demo_and_log_in(tmp_path)
    assert (tmp_path / "resorb.db").exists() and (tmp_path / "resorb.db.secret").exists()


def test_second_demo_start_prints_a_working_login_too(tmp_path):
    """scripts/run-example.sh run twice on the same demo database: both starts print a
    login that works (the demo password is reset on every --demo start)."""
    first = _start_demo_and_log_in(tmp_path)
    second = _start_demo_and_log_in(tmp_path)
    assert first != second


def test_prepare_demo_seeds_once_and_resets_the_password_each_time(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path}/demo.db")
    reg.upgrade()
    said = []
    password = prepare_demo(reg, echo=said.append)
    assert password and reg.authenticate(DEMO_USER, password) is not None
    assert reg.get_user(DEMO_USER).role == "admin"
    assert reg.count_patients() == 20 and "synthetic" in said[0]
    reg.set_user_active(DEMO_USER, False, actor="adm")
    again = prepare_demo(reg, echo=said.append)
    assert again and again != password
    assert reg.authenticate(DEMO_USER, again) is not None
    assert reg.authenticate(DEMO_USER, password) is None
    assert reg.count_patients() == 20 and len(said) == 1
    # The audit log records the reset without the hash.
    entries = reg.audit_log(table="users")
    assert entries and all("$argon2" not in str(e) for e in entries)
    reg.close()


def test_serve_rejects_a_bad_database_url_with_one_line(tmp_path):
    r = subprocess.run(
        [*_resorb(), "serve", "--db", "not-a-url"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "db" in r.stderr and "Traceback" not in r.stderr


def test_serve_on_a_busy_port_fails_before_seeding(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run(
            [*_resorb(), "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2
    assert "port" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "resorb.db").exists()  # nothing seeded, no password lost


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_loopback_detection(host, loopback):
    assert _is_loopback(host) is loopback
