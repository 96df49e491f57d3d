"""Regression tests of the security review (issue 11): bounded requests, sign-in
throttling that cannot lock users out, sessions that end, safe user names.

Each test is named after the finding it pins down.
"""

from __future__ import annotations

import logging

import pytest
from _webtools import PASSWORD, SECRET, csrf_of, login, make_client

from resorb.errors import InvalidInputError
from resorb.registry import AuthState, ThrottlePolicy
from resorb.web import create_app


def _no_store_and_csp(r) -> None:
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def _one_line(r) -> None:
    text = r.text.strip()
    assert "\n" not in text and "Traceback" not in text


# -- bounded requests ---------------------------------------------------------------------


def test_large_json_body_without_token_is_refused_413_before_parsing_or_login(client):
    """Finding: a 64 MB JSON array posted without a token was parsed before the 401."""
    body = b"[" + b"1," * 600_000 + b"1]"  # 1.2 MB, over the 1 MiB default
    r = client.post("/api/patients", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413  # not 401: the body limit comes first
    _no_store_and_csp(r)
    _one_line(r)
    assert "limit" in r.json()["error"]


def test_chunked_body_without_length_is_cut_off_at_the_limit(client):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MB in all, no Content-Length

    r = client.post("/api/patients", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    _no_store_and_csp(r)


def test_large_multipart_body_to_login_is_refused_413_before_the_csrf_check(client):
    """Finding: a 512 MB multipart body to /login was spooled to disk before the 403."""
    r = client.post(
        "/login", files={"f": ("a.bin", b"\0" * (2 * 1024 * 1024))}, data={"username": "doc"}
    )
    assert r.status_code == 413
    _no_store_and_csp(r)


def test_body_limit_is_configurable(db_url, registry, clock):
    app = create_app(db_url, secret_key=SECRET, registry=registry, clock=clock, max_body_bytes=2000)
    with make_client(app) as c:
        r = c.post("/api/token", data={"username": "doc", "password": "p" * 3000})
        assert r.status_code == 413
        r = c.post("/api/token", data={"username": "doc", "password": "wrong-password"})
        assert r.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/patients/99999999999999999999999",
        "/api/patients/-99999999999999999999999/visits",
        "/api/patients/1/assessments/" + "9" * 5000,
        "/patients/18446744073709551616",
    ],
)
def test_integers_beyond_64_bits_in_paths_give_404_with_csp_and_no_store(client, path):
    """Finding: integers beyond 64 bits in paths gave 500s without CSP and no-store."""
    r = client.get(path)
    assert r.status_code == 404
    _no_store_and_csp(r)
    _one_line(r)


def test_integers_beyond_64_bits_in_queries_give_422(client):
    r = client.get("/api/patients?offset=99999999999999999999999")
    assert r.status_code == 422 and "offset" in r.text
    _no_store_and_csp(r)


def test_out_of_range_query_integer_answers_the_documented_422_shape(client):
    """Schemathesis found the early 422 answering ``detail`` as a string while the
    OpenAPI schema documents the validation shape: a list of field errors."""
    r = client.get(
        "/api/patients?offset=99999999999999999999999", headers={"Accept": "application/json"}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == [
        {
            "field": "offset",
            "message": "integer out of range",
            "allowed": "at most 9223372036854775807",
            "type": "int_too_big",
        }
    ]
    assert body["error"].startswith("offset: integer out of range")


def test_internal_error_keeps_csp_and_no_store_and_logs_no_values(app, client, caplog):
    """Finding: 500 responses lacked the CSP and no-store headers (and logs showed values)."""

    def boom():
        raise RuntimeError("row value SECRET-NOTE")

    app.add_api_route("/api/test-boom", boom)
    with caplog.at_level(logging.ERROR, logger="resorb.web"):
        r = client.get("/api/test-boom")
    assert r.status_code == 500
    _no_store_and_csp(r)
    _one_line(r)
    assert "SECRET-NOTE" not in r.text
    assert "SECRET-NOTE" not in caplog.text and "RuntimeError" in caplog.text


# -- sign-in throttling -------------------------------------------------------------------


def _form_login(c, username, password):
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"csrf_token": token, "username": username, "password": password})


def test_rotating_x_forwarded_for_does_not_bypass_the_login_limit(app):
    """Finding: X-Forwarded-For from loopback was trusted, so 30 of 30 guesses with a
    rotating header were evaluated. The app uses the peer address only (uvicorn
    applies forwarded headers only for ``--trusted-proxy`` addresses)."""
    s = app.state.resorb.settings
    evaluated = 0
    with make_client(app, client=("127.0.0.1", 5000)) as c:
        for i in range(30):
            r = c.post(
                "/api/token",
                data={"username": "doc", "password": f"guess-{i}"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            evaluated += r.status_code == 401
            assert r.status_code in (401, 429)
    assert evaluated == s.login_max_failures + 1  # the free ones, then one per wait


def test_serve_trusts_forwarded_headers_only_from_configured_proxies():
    from resorb.cli._web import uvicorn_proxy_options

    assert uvicorn_proxy_options([]) == {"proxy_headers": False}
    assert uvicorn_proxy_options(["10.1.2.3", "10.1.2.4"]) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.1.2.3,10.1.2.4",
    }
    with pytest.raises(InvalidInputError, match="trusted-proxy"):
        uvicorn_proxy_options(["*"])


def test_wrong_guesses_from_elsewhere_do_not_lock_the_user_out(app, clock):
    """Finding: five wrong guesses locked any named user out for 15 minutes."""
    with make_client(app, client=("10.0.0.1", 1000)) as own:
        login(own, "doc")  # the user's own workstation becomes a known source
    with make_client(app, client=("198.51.100.7", 1000)) as attacker:
        for i in range(200):
            attacker.post("/api/token", data={"username": "doc", "password": f"x{i}"})
            clock.advance(5)
    with make_client(app, client=("10.0.0.1", 1000)) as own:
        assert _form_login(own, "doc", PASSWORD).status_code == 303
    # From a new address the user waits at most the account cap, never 15 minutes.
    with make_client(app, client=("10.0.0.99", 1000)) as other:
        r = other.post("/api/token", data={"username": "doc", "password": PASSWORD})
        if r.status_code == 429:
            wait = int(r.headers["retry-after"])
            assert wait <= app.state.resorb.settings.login_account_max_delay_s + 1
            clock.advance(wait)
            r = other.post("/api/token", data={"username": "doc", "password": PASSWORD})
        assert r.status_code == 200


def test_failed_sign_ins_slow_down_progressively(app, clock):
    s = app.state.resorb.settings
    with make_client(app, client=("10.0.0.5", 1000)) as c:
        for _ in range(s.login_max_failures):
            assert (
                c.post("/api/token", data={"username": "adm", "password": "nope-nope"}).status_code
                == 401
            )
        waits = []
        for _ in range(4):
            assert (
                c.post("/api/token", data={"username": "adm", "password": "nope-nope"}).status_code
                == 401
            )
            r = c.post("/api/token", data={"username": "adm", "password": PASSWORD})
            assert r.status_code == 429  # even the right password waits: nothing leaks
            waits.append(int(r.headers["retry-after"]))
            clock.advance(waits[-1])
        assert waits == [2, 3, 5, 9]  # 1, 2, 4, 8 s (+1 s rounding up)
        assert (
            c.post("/api/token", data={"username": "adm", "password": PASSWORD}).status_code == 200
        )


def test_throttle_policy_doubles_up_to_its_cap():
    p = ThrottlePolicy(free_failures=3, base_delay_s=1, max_delay_s=36, window_s=3600)
    assert [p.delay_s(n) for n in range(1, 11)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 36]


def test_rate_limit_state_is_shared_between_app_instances(db_url, clock):
    """Rate-limit state was per process; it now lives in the registry database."""
    from resorb.registry import Registry

    regs = [Registry(db_url), Registry(db_url)]
    apps = [create_app(db_url, secret_key=SECRET, registry=r, clock=clock) for r in regs]
    s = apps[0].state.resorb.settings
    with make_client(apps[0], client=("10.0.0.8", 1)) as a:
        for _ in range(s.login_max_failures + 1):
            a.post("/api/token", data={"username": "res", "password": "nope-nope"})
    with make_client(apps[1], client=("10.0.0.8", 1)) as b:
        r = b.post("/api/token", data={"username": "res", "password": PASSWORD})
        assert r.status_code == 429
    for r in regs:
        r.close()


def test_unknown_users_cost_no_password_hash_but_take_as_long(app, monkeypatch):
    """Finding: each unknown user cost a full password hash (token endpoint at ~11 req/s)."""
    import resorb.web._login as login_mod

    hashes, sleeps = [], []
    real_verify = login_mod.verify_password

    def counting_verify(h, p):
        hashes.append(1)
        return real_verify(h, p)

    async def fake_sleep(seconds):
        sleeps.append(seconds)

    import resorb.registry._security as security

    monkeypatch.setattr(login_mod, "verify_password", counting_verify)
    monkeypatch.setattr(security, "verify_password", counting_verify)
    monkeypatch.setattr(login_mod.asyncio, "sleep", fake_sleep)
    with make_client(app, client=("10.0.0.30", 1)) as c:
        assert (
            c.post("/api/token", data={"username": "doc", "password": PASSWORD}).status_code == 200
        )
        assert len(hashes) == 1
        for i in range(3):
            r = c.post("/api/token", data={"username": f"nobody{i}", "password": "x" * 9})
            assert r.status_code == 401
    assert len(hashes) == 1  # no hash for the unknown names
    assert len(sleeps) == 3 and all(s > 0 for s in sleeps)  # padded to a real check


# -- sessions -----------------------------------------------------------------------------


def test_copied_session_cookie_stops_working_after_logout(app):
    """Finding: a cookie copied before logout still worked afterwards."""
    with make_client(app) as c:
        token = login(c, "doc")
        copied = c.cookies.get("resorb_session")
        assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    with make_client(app) as thief:
        thief.cookies.set("resorb_session", copied)
        r = thief.get("/patients")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_deactivating_a_user_ends_their_sessions_at_once(app, registry):
    with make_client(app) as c:
        login(c, "doc")
        assert c.get("/patients").status_code == 200
        registry.set_user_active("doc", False, actor="adm")
        r = c.get("/patients")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert AuthState(registry.engine).end_sessions_of("doc") == 0  # none left


def test_revoked_bearer_token_is_refused(app, client):
    r = client.post("/api/token", data={"username": "doc", "password": PASSWORD})
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.get("/api/me", headers=h).status_code == 200
    assert client.post("/api/token/revoke", headers=h).status_code == 204
    r = client.get("/api/me", headers=h)
    assert r.status_code == 401 and "revoked" in r.text


# -- user names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "x/../doc",
        "..",
        "a..b",
        "clin\u200b2",
        "\x1b[31mred",
        "\uff24oc",
        "Doc",
        "doc admin",
        "dоc",  # Cyrillic o
        "",
        "a" * 65,
        "-lead",
        "x\ny",
    ],
)
def test_usernames_outside_the_safe_set_are_refused(registry, name):
    """Finding: user names accepted '/', '..', zero-width characters, ANSI escapes
    and look-alikes ("Deactivate" on x/../clin2 deactivated clin2)."""
    with pytest.raises(InvalidInputError) as info:
        registry.add_user(name, "long-enough-password", role="clinician", actor="adm")
    assert info.value.field == "username"
    assert "\x1b" not in str(info.value) and "\n" not in str(info.value)


def test_admin_form_refuses_a_path_like_user_name_and_the_target_stays_active(app, registry):
    with make_client(app) as c:
        token = login(c, "adm")
        r = c.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": "x/../doc",
                "password": "long-enough-password",
                "role": "clinician",
            },
        )
        assert r.status_code == 422
    assert registry.get_user("doc").active
    assert registry.get_user("x/../doc") is None


# -- research view ------------------------------------------------------------------------


def test_research_view_is_paginated_and_reads_one_page(app, client, registry):
    """Finding: the research view read the whole registry on every request."""
    from sqlalchemy import event

    for i in range(7):
        registry.create_patient(
            {"pseudonym": f"PAGE-{i}", "birth_year": 1970 + i, "sex": "female"}, actor="doc"
        )
    login = {"username": "res", "password": PASSWORD}
    token = client.post("/api/token", data=login).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    client.get("/api/research/patients", headers=h)  # offsets drawn once
    loaded: list[int] = []

    def count_loads(target, _context):
        loaded.append(target.id)

    from resorb.registry._models import Patient

    event.listen(Patient, "load", count_loads)
    try:
        r = client.get("/api/research/patients?limit=3&offset=3", headers=h)
    finally:
        event.remove(Patient, "load", count_loads)
    assert r.status_code == 200 and r.headers["x-total-count"] == "7"
    assert [row["pseudonym"] for row in r.json()] == ["PAGE-3", "PAGE-4", "PAGE-5"]
    assert len(loaded) == 3  # only the page's patients were read
    r = client.get("/api/research/patients?search=page-6", headers=h)
    assert [row["pseudonym"] for row in r.json()] == ["PAGE-6"]
    assert client.get("/api/research/patients?limit=5000", headers=h).status_code == 422


def test_cohort_dashboard_is_computed_once_per_state_of_the_registry(app, registry, monkeypatch):
    """The dashboard summarises every patient; an unchanged registry is not re-read."""
    import resorb.web._cohort as cohort_mod

    calls = []
    real = cohort_mod.summarise_cohort

    def counting(rows):
        calls.append(len(rows))
        return real(rows)

    monkeypatch.setattr(cohort_mod, "summarise_cohort", counting)
    registry.create_patient({"pseudonym": "COH-1", "birth_year": 1970, "sex": "male"}, actor="doc")
    with make_client(app) as c:
        login(c, "res")
        assert c.get("/cohort").status_code == 200
        assert c.get("/cohort").status_code == 200
        assert calls == [1]
        registry.create_patient(
            {"pseudonym": "COH-2", "birth_year": 1971, "sex": "male"}, actor="doc"
        )
        assert c.get("/cohort").status_code == 200
        assert calls == [1, 2]


# -- plausible values at every door ----------------------------------------------------------


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("visits", {"date": "0001-01-05"}, "date"),
        ("mri", {"date": "2026-01-05", "volume_mm3": 1e308}, "volume_mm3"),
        (
            "mri",
            {"date": "2026-01-05", "source": "diameters", "diameters_mm": [1e120, 1, 1]},
            "diameters_mm",
        ),
        ("therapies", {"name": "nsaid", "start": "0001-01-05"}, "start"),
    ],
)
def test_early_dates_and_huge_sizes_are_refused_by_the_api(app, client, path, body, field):
    """Finding: a visit, onset, therapy or MRI dated 0001-01-05 and volumes of 1e308
    or diameters of 1e120 were accepted by the API, forms and CSV."""
    state = app.state.resorb
    token = state.tokens.issue("doc", "clinician", now_s=state.settings.clock())
    h = {"Authorization": f"Bearer {token}"}
    pid = client.post(
        "/api/patients",
        headers=h,
        json={"pseudonym": "DOOR-1", "birth_year": 1980, "sex": "female"},
    ).json()["id"]
    r = client.post(f"/api/patients/{pid}/{path}", headers=h, json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"] and "\n" not in r.json()["error"]
    r = client.post(
        "/api/patients",
        headers=h,
        json={
            "pseudonym": "DOOR-2",
            "birth_year": 1800,
            "sex": "female",
            "onset_date": "0001-01-05",
        },
    )
    assert r.status_code == 422


def test_early_date_is_refused_by_the_form_and_the_csv_import(app, registry, tmp_path):
    from resorb.registry import import_csv

    p = registry.create_patient(
        {"pseudonym": "DOOR-3", "birth_year": 1980, "sex": "male"}, actor="doc"
    )
    with make_client(app) as c:
        token = login(c, "doc")
        r = c.post(f"/patients/{p.id}/visit/new", data={"csrf_token": token, "date": "0001-01-05"})
        assert r.status_code == 422 and "1934" in r.text
    (tmp_path / "visits.csv").write_text(
        "pseudonym,date,leg_pain_nrs,back_pain_nrs,vas_mm,odi_answers,joa_total,rmdq,"
        "motor_mrc,slr_degrees,red_flags,notes\nDOOR-3,0001-01-05,,,,,,,,,,\n"
    )
    with pytest.raises(InvalidInputError, match="date"):
        import_csv(registry, tmp_path / "visits.csv", actor="doc")
    assert registry.list_visits(p.id) == []


def test_openapi_documents_every_error_status_with_the_real_422_shape(client):
    """Finding: the OpenAPI schema documented another 422 shape and omitted
    401/403/404/429."""
    spec = client.get("/api/openapi.json").json()
    body = spec["components"]["schemas"]["ValidationErrorBody"]
    assert set(body["properties"]) == {"detail", "error"}
    field_error = spec["components"]["schemas"]["FieldError"]
    assert {"field", "message", "allowed"} <= set(field_error["properties"])
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "403", "404", "413", "422", "429"} <= codes, (method, path)
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ValidationErrorBody"
            )


def test_a_flood_of_made_up_names_leaves_bounded_login_state(app, registry, clock):
    """Every failed name leaves a throttle row; stale rows (and timed-out sessions)
    are swept while failures keep coming, so a flood cannot grow the tables for ever."""
    from sqlalchemy import func, select

    from resorb.registry._authstate import login_throttle, web_sessions

    with make_client(app, client=("10.0.0.77", 1)) as c:
        login(c, "doc")
        for i in range(10):
            c.post("/api/token", data={"username": f"made-up{i}", "password": "x" * 9})
        clock.advance(3 * 3600 + app.state.resorb.settings.session_absolute_s)
        c.post("/api/token", data={"username": "one-more", "password": "x" * 9})
    with registry.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(select(login_throttle.c.key))]
        sessions = conn.execute(select(func.count()).select_from(web_sessions)).scalar()
    assert sorted(keys) == sorted(["pair:one-more|10.0.0.77", "src:10.0.0.77", "acct:one-more"])
    assert sessions == 0


def test_a_registry_locked_past_the_busy_timeout_answers_503_not_500(app, client, registry):
    """Finding: "database is locked" surfaced as a 500. With WAL and a 30 s busy
    timeout writers queue; if a lock still outlasts it, the answer is a one-line 503
    with Retry-After (nothing written), with the security headers."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def locked():
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    app.add_api_route("/api/test-locked", locked)
    r = client.get("/api/test-locked")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    _no_store_and_csp(r)
    _one_line(r)
