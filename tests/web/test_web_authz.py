"""Authorisation matrix: anonymous, wrong role, expired and forged tokens, researcher view."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from _webtools import SECRET, USERS, auth, csrf_of, login, make_client

from resorb.web._signing import _derive

READ_IDENTIFIED = [
    ("GET", "/api/patients"),
    ("GET", "/api/patients/{pid}"),
    ("GET", "/api/patients/{pid}/timeline"),
    ("GET", "/api/patients/{pid}/visits"),
    ("GET", "/api/patients/{pid}/mri"),
    ("GET", "/api/patients/{pid}/findings"),
    ("GET", "/api/patients/{pid}/therapies"),
    ("GET", "/api/patients/{pid}/assessment"),
    ("GET", "/api/patients/{pid}/assessments"),
]
WRITE = [
    ("POST", "/api/patients", {"pseudonym": "NEW-1", "birth_year": 1990, "sex": "male"}),
    ("POST", "/api/patients/{pid}/visits", {"date": "2026-06-01", "leg_pain_nrs": 3}),
    ("POST", "/api/patients/{pid}/mri", {"date": "2026-06-01", "volume_mm3": 500}),
    (
        "POST",
        "/api/patients/{pid}/findings",
        {"visit_id": 1, "level": "L4-L5", "morphology": "protrusion"},
    ),
    ("POST", "/api/patients/{pid}/therapies", {"name": "exercise"}),
    ("POST", "/api/patients/{pid}/assessments", None),
]
ALL = (
    [(m, p, None) for m, p in READ_IDENTIFIED]
    + WRITE
    + [("GET", "/api/research/patients", None), ("GET", "/api/me", None)]
)


def _call(client, method, path, body, pid, headers=None):
    return client.request(method, path.format(pid=pid), json=body, headers=headers or {})


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _forged(kind: str, app) -> str:
    now = int(app.state.resorb.settings.clock())
    claims = {
        "sub": "doc",
        "role": "clinician",
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        "iss": "resorb",
    }
    key = _derive(SECRET, "jwt")
    if kind == "wrong_signature":
        return jwt.encode(claims, _derive("another-secret-" + "z" * 30, "jwt"), algorithm="HS256")
    if kind == "raw_secret_not_derived_key":
        return jwt.encode(claims, SECRET, algorithm="HS256")
    if kind == "alg_none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    if kind == "tampered_role":
        # a researcher's genuine token with the role in the payload rewritten
        good = jwt.encode({**claims, "sub": "res", "role": "researcher"}, key, algorithm="HS256")
        head, _, sig = good.split(".")
        return f"{head}.{_b64({**claims, 'sub': 'res', 'role': 'clinician'})}.{sig}"
    if kind == "expired":
        return jwt.encode({**claims, "iat": now - 3600, "exp": now - 1}, key, algorithm="HS256")
    if kind == "missing_jti":
        return jwt.encode({k: v for k, v in claims.items() if k != "jti"}, key, algorithm="HS256")
    if kind == "role_not_the_users":
        return jwt.encode({**claims, "sub": "res", "role": "admin"}, key, algorithm="HS256")
    if kind == "unknown_user":
        return jwt.encode({**claims, "sub": "mallory"}, key, algorithm="HS256")
    if kind == "hs512":
        return jwt.encode(claims, key * 2, algorithm="HS512")  # 64-byte key: no warning
    if kind == "garbage":
        return "not-a-token"
    raise AssertionError(kind)


FORGERIES = [
    "wrong_signature",
    "raw_secret_not_derived_key",
    "alg_none",
    "tampered_role",
    "expired",
    "missing_jti",
    "role_not_the_users",
    "unknown_user",
    "hs512",
    "garbage",
]


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_anonymous_api_calls_are_401(client, patient_with_series, method, path, body):
    r = _call(client, method, path, body, patient_with_series)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("kind", FORGERIES)
@pytest.mark.parametrize(("method", "path", "body"), [ALL[1], WRITE[1]])
def test_forged_and_expired_tokens_are_401(
    client, app, patient_with_series, kind, method, path, body
):
    h = {"Authorization": f"Bearer {_forged(kind, app)}"}
    r = _call(client, method, path, body, patient_with_series, h)
    assert r.status_code == 401, (kind, r.text)


def test_token_expires_on_the_app_clock(client, app, clock, patient_with_series):
    h = auth(app, "doc")
    assert client.get("/api/me", headers=h).status_code == 200
    clock.advance(app.state.resorb.settings.token_ttl_s - 1)
    assert client.get("/api/me", headers=h).status_code == 200
    clock.advance(2)
    r = client.get("/api/me", headers=h)
    assert r.status_code == 401 and "expired" in r.text


def test_token_of_a_deactivated_user_stops_working(client, app, registry):
    h = auth(app, "doc")
    assert client.get("/api/me", headers=h).status_code == 200
    registry.set_user_active("doc", False, actor="adm")
    assert client.get("/api/me", headers=h).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), WRITE)
def test_researcher_cannot_write(client, app, registry, patient_with_series, method, path, body):
    before = registry.patient_timeline(patient_with_series)
    n_patients = registry.count_patients()
    r = _call(client, method, path, body, patient_with_series, auth(app, "res"))
    assert r.status_code == 403
    assert "researcher" in r.json()["detail"]
    assert registry.count_patients() == n_patients
    assert registry.patient_timeline(patient_with_series) == before


@pytest.mark.parametrize(("method", "path"), READ_IDENTIFIED)
def test_researcher_cannot_read_identified_records(client, app, patient_with_series, method, path):
    r = _call(client, method, path, None, patient_with_series, auth(app, "res"))
    assert r.status_code == 403


@pytest.mark.parametrize("role_user", ["doc", "adm"])
@pytest.mark.parametrize(("method", "path"), READ_IDENTIFIED)
def test_clinicians_and_admins_read_identified_records(
    client, app, patient_with_series, role_user, method, path
):
    r = _call(client, method, path, None, patient_with_series, auth(app, role_user))
    assert r.status_code == 200


def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_researcher_sees_pseudonymised_data_only(client, app, patient_with_series):
    r = client.get("/api/research/patients", headers=auth(app, "res"))
    assert r.status_code == 200
    rows = r.json()
    assert "private clinical note" not in r.text
    assert not {
        "notes",
        "id",
        "patient_id",
        "mri_id",
        "visit_id",
        "series_info",
        "created_by",
    } & _keys(rows)
    row = next(x for x in rows if x["pseudonym"] == "WEB-001")
    real = ["2026-01-10", "2026-05-10"]
    shifted = [m["date"] for m in row["mri"]]
    assert not set(shifted) & set(real)  # no real date ...
    import datetime as dt

    d = [dt.date.fromisoformat(x) for x in shifted]
    assert (d[1] - d[0]).days == 120  # ... but the interval is kept
    one = client.get("/api/research/patients/WEB-001", headers=auth(app, "res"))
    assert one.status_code == 200 and one.json() == row


PAGES = [
    "/patients",
    "/patients/{pid}",
    "/patients/{pid}/assessment",
    "/patients/{pid}/visit/new",
    "/cohort",
    "/research/patients",
    "/admin/users",
    "/patients/{pid}/assessment.pdf",
    "/patients/{pid}/report",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_pages_redirect_to_login(client, patient_with_series, path):
    r = client.get(path.format(pid=patient_with_series))
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("res", "/patients/{pid}", 403),
        ("res", "/patients/{pid}/assessment", 403),
        ("res", "/patients/{pid}/assessment.pdf", 403),
        ("res", "/patients/{pid}/report", 403),
        ("res", "/patients/{pid}/mri/new", 403),
        ("res", "/admin/users", 403),
        ("res", "/research/patients", 200),
        ("res", "/cohort", 200),
        ("doc", "/admin/users", 403),
        ("doc", "/patients/{pid}/mri/new", 200),
        ("adm", "/admin/users", 200),
        ("adm", "/patients/{pid}", 200),
    ],
)
def test_page_access_by_role(app, patient_with_series, user, path, status):
    with make_client(app) as c:
        login(c, user)
        r = c.get(path.format(pid=patient_with_series))
        assert r.status_code == status, r.text[-300:]


@pytest.mark.parametrize(
    "path",
    [
        "/patients/new",
        "/patients/{pid}/visit/new",
        "/patients/{pid}/mri/new",
        "/patients/{pid}/assessment",
        "/admin/users",
    ],
)
def test_researcher_cannot_post_forms_even_with_a_valid_csrf_token(
    app, registry, patient_with_series, path
):
    with make_client(app) as c:
        token = login(c, "res")
        r = c.post(
            path.format(pid=patient_with_series),
            data={
                "csrf_token": token,
                "pseudonym": "R-1",
                "birth_year": "1990",
                "sex": "male",
                "date": "2026-06-01",
                "volume_mm3": "10",
                "username": "eve",
                "password": "x" * 12,
                "role": "admin",
            },
        )
        assert r.status_code == 403
    assert registry.find_patient("R-1") is None
    assert registry.get_user("eve") is None
    assert len(registry.list_mri(patient_with_series)) == 2


def test_research_pages_show_no_notes_or_real_dates(app, patient_with_series):
    with make_client(app) as c:
        login(c, "res")
        page = c.get("/research/patients/WEB-001")
        assert page.status_code == 200
        assert "private clinical note" not in page.text
        assert "2026-01-10" not in page.text and "2026-05-10" not in page.text
        # the research list links by pseudonym, never by database id
        listing = c.get("/research/patients").text
        assert "/research/patients/WEB-001" in listing and "/patients/1" not in listing


def test_clinician_timeline_shows_notes(app, patient_with_series):
    with make_client(app) as c:
        login(c, "doc")
        assert "private clinical note" in c.get(f"/patients/{patient_with_series}").text


def test_every_role_is_covered():
    assert set(USERS.values()) == {"clinician", "researcher", "admin"}
    assert csrf_of('<input name="csrf_token" value="abc">') == "abc"
