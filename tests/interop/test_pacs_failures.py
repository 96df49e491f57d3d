"""A PACS that is down, refuses the credentials or sends what is not DICOM: one line, in words.

These messages reach the web app's Import from PACS page, so they name what went
wrong, never a Python or library class. A small HTTP server in the test plays the
misbehaving PACS (no Orthanc needed: Orthanc does not misbehave on request).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("dicomweb_client", reason="the pacs extra (dicomweb-client) is not installed")

from resorb.errors import PacsError
from resorb.interop.dicomweb import PacsClient, PacsConfig

STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.2"
#: A Python or library class name (CamelCase ending in Error or Exception).
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


class _Pacs(BaseHTTPRequestHandler):
    mode = "not-dicom"

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.mode == "unauthorised":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="pacs"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.split("?")[0].endswith("/series"):  # QIDO-RS: one series, 1 instance
            body = json.dumps(
                [
                    {
                        "0020000E": {"vr": "UI", "Value": [SERIES]},
                        "00201209": {"vr": "IS", "Value": [1]},
                        "00080060": {"vr": "CS", "Value": ["MR"]},
                    }
                ]
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # WADO-RS: a multipart answer whose part is not a DICOM file.
        part = b"<html>this PACS answers with a web page</html>" * 4
        body = (
            b"--resorbtest\r\nContent-Type: application/dicom\r\n\r\n"
            + part
            + b"\r\n--resorbtest--\r\n"
        )
        self.send_response(200)
        self.send_header(
            "Content-Type", 'multipart/related; type="application/dicom"; boundary=resorbtest'
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_pacs():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_Pacs,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/dicom-web"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _one_line_in_words(exc: PacsError) -> str:
    text = str(exc)
    assert "\n" not in text
    assert not CLASS_NAME.search(text), text
    return text


def test_a_pacs_that_is_down_is_one_line_saying_it_cannot_connect():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = PacsClient(PacsConfig(f"http://127.0.0.1:{port}/dicom-web", timeout_s=5))
    with pytest.raises(PacsError) as err:
        client.search_studies(patient_id="PID-1")
    assert "cannot connect" in _one_line_in_words(err.value)


def test_a_pacs_that_refuses_the_credentials_says_so(fake_pacs):
    client = PacsClient(PacsConfig(fake_pacs("unauthorised"), timeout_s=5))
    with pytest.raises(PacsError) as err:
        client.search_studies(patient_id="PID-1")
    assert "refused the credentials" in _one_line_in_words(err.value)


def test_a_pacs_that_sends_a_web_page_instead_of_dicom_is_refused_and_nothing_kept(
    fake_pacs, tmp_path
):
    client = PacsClient(PacsConfig(fake_pacs("not-dicom"), timeout_s=5))
    with pytest.raises(PacsError) as err:
        client.retrieve_study(STUDY, tmp_path / "study")
    assert "not a DICOM file" in _one_line_in_words(err.value)
    assert list((tmp_path / "study").glob("*")) == []
