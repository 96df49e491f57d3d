"""``resorb serve``: the web app on uvicorn, after migrating the registry."""

from __future__ import annotations

import ipaddress

import typer

__all__ = ["register"]

_DB_HELP = "Registry URL: sqlite:///PATH (default ./resorb.db) or postgresql+psycopg://..."
DEMO_USER = "demo"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uvicorn_proxy_options(trusted_proxies: list[str]) -> dict[str, object]:
    """uvicorn's proxy settings: forwarded headers (``X-Forwarded-For``/``-Proto``)
    are applied only when they come from one of ``trusted_proxies`` (IP addresses
    or networks); with none, never, so a client cannot choose its own address
    for the sign-in throttle."""
    from resorb.errors import InvalidInputError

    if not trusted_proxies:
        return {"proxy_headers": False}
    for item in trusted_proxies:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidInputError(
                "trusted-proxy",
                f"{item!r} is not an IP address or network",
                allowed="e.g. 10.0.0.5 or 10.0.0.0/24; never '*'",
            ) from None
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted_proxies)}


def check_port_free(host: str, port: int) -> None:
    """Fail early (before any seeding) when the address cannot be bound."""
    import socket

    from resorb.errors import InvalidInputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InvalidInputError(
                "port",
                f"cannot listen on {host}:{port} ({exc.strerror})",
                allowed="a free port (--port) on a local address (--host)",
            ) from None


def prepare_demo(registry, *, echo=typer.echo) -> str:
    """Seed the synthetic demo cohort into an empty registry and give the demo
    user (role ``admin``, so that every page, user administration included, can
    be tried) a fresh random password.

    Called only for ``resorb serve --demo``. The password is new on every start,
    so the login printed at start-up always works, also on a registry seeded by
    an earlier run; the registry holds synthetic data only (never use ``--demo``
    on a clinic's registry). The user is re-activated if it had been switched off.

    Returns
    -------
    str
        The demo user's password for this start (stored only as a hash).
    """
    import secrets

    if registry.count_patients() == 0:
        from resorb.registry._demo import seed_demo

        counts = seed_demo(registry)
        echo(
            f"Seeded the synthetic demo registry: {counts['patients']} fictional patients "
            f"(no patient data)."
        )
    password = secrets.token_urlsafe(12)
    if registry.get_user(DEMO_USER) is None:
        registry.add_user(DEMO_USER, password, role="admin", actor=DEMO_USER)
    else:
        registry.set_user_password(DEMO_USER, password, actor=DEMO_USER)
        if not registry.get_user(DEMO_USER).active:
            registry.set_user_active(DEMO_USER, True, actor=DEMO_USER)
    return password


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        host: str = typer.Option(
            "127.0.0.1",
            "--host",
            help="Address to listen on (default loopback only; put a "
            "TLS-terminating reverse proxy in front of any other).",
        ),
        trusted_proxy: list[str] = typer.Option(
            [],
            "--trusted-proxy",
            help="Address of a reverse proxy whose X-Forwarded-For/-Proto headers are "
            "believed (repeatable; default none: the peer address is used).",
        ),
        demo: bool = typer.Option(
            False,
            "--demo",
            help="Seed a synthetic demo registry if the database "
            "is empty and print a fresh login of the demo "
            "admin user (synthetic data only).",
        ),
    ) -> None:
        """Run the web app (migrates the registry schema first)."""
        from resorb.errors import require_extra
        from resorb.registry import Registry
        from resorb.web import create_app

        uvicorn = require_extra("uvicorn", "web")
        proxy = uvicorn_proxy_options(trusted_proxy)
        check_port_free(host, port)
        registry = Registry(db)
        registry.upgrade()
        password = prepare_demo(registry) if demo else None
        application = create_app(db, registry=registry)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
        typer.echo(f"resorb web app: {url}  (registry {registry.url}; Ctrl+C to stop)")
        if password:
            typer.echo(
                f"Demo login: user {DEMO_USER!r}, password {password!r} "
                "(role admin; new on every --demo start; stored only as a hash)"
            )
        if not _is_loopback(host):
            typer.echo(
                "warning: listening beyond loopback without TLS; serve it behind a "
                "reverse proxy that terminates HTTPS.",
                err=True,
            )
        try:
            uvicorn.run(
                application, host=host, port=port, log_level="info", server_header=False, **proxy
            )
        finally:
            registry.close()
