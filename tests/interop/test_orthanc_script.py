"""``.ci/orthanc.sh``, which ``scripts/test.sh`` runs on a fresh CI machine as root.

Recipe (the same by hand): ``RESORB_ORTHANC_PORT=P RESORB_ORTHANC_DIR=D
.ci/orthanc.sh`` prints the DICOMweb URL on one line, ``... .ci/orthanc.sh stop``
ends that Orthanc and removes D. Each test uses a free loopback port and a folder
of its own, so it never touches the Orthanc the PACS tests use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.pacs,
    pytest.mark.skipif(
        shutil.which("Orthanc") is None,
        reason="Orthanc is not installed (Debian packages orthanc and "
        "orthanc-dicomweb); scripts/test.sh installs them",
    ),
]

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "orthanc.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def orthanc_env(tmp_path):
    port = _free_port()
    folder = Path(f"/tmp/resorb-orthanc-test-{os.getpid()}-{port}")
    env = dict(os.environ, RESORB_ORTHANC_PORT=str(port), RESORB_ORTHANC_DIR=str(folder))
    yield env, port, folder
    subprocess.run(
        ["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60, check=False
    )


def _script(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent has not collected it


def test_orthanc_script_refuses_a_port_another_program_holds_on_one_line(orthanc_env):
    env, port, _folder = orthanc_env
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        run = _script(env)
    assert run.returncode == 1
    assert run.stdout == ""  # no URL of someone else's server
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "in use" in lines[0]


def test_orthanc_script_starts_reuses_and_stop_ends_it_and_removes_its_folder(orthanc_env):
    env, port, folder = orthanc_env
    first = _script(env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"http://resorb:resorb-test@127.0.0.1:{port}/dicom-web"
    pid = int((folder / "orthanc.pid").read_text())
    assert _alive(pid)
    if os.geteuid() == 0:  # as root, Orthanc runs as Debian's unprivileged orthanc user
        assert Path(f"/proc/{pid}").stat().st_uid != 0
    again = _script(env)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert "reusing" in again.stderr
    stop = _script(env, "stop")
    assert stop.returncode == 0
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert not folder.exists()
    assert _script(env, "stop").returncode == 0  # nothing running: nothing to stop


def test_orthanc_script_starts_afresh_over_what_a_killed_orthanc_left(orthanc_env):
    env, port, folder = orthanc_env
    assert _script(env).returncode == 0
    pid = int((folder / "orthanc.pid").read_text())
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = folder / "storage" / "left-by-the-killed-orthanc"
    leftover.write_text("x")
    run = _script(env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith(f":{port}/dicom-web")
    assert not leftover.exists()


def test_orthanc_script_refuses_a_folder_that_belongs_to_another_user(orthanc_env):
    env, _port, folder = orthanc_env
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root (CI runs the tests as root)")
    folder.mkdir()
    os.chown(folder, 65534, 65534)  # nobody
    run = _script(env)
    assert run.returncode == 1 and run.stdout == ""
    assert "does not belong to this user" in run.stderr
    shutil.rmtree(folder)
