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
            raise InvalidInputError("port", f"cannot listen on {host}:{port} ({exc.strerror})",
                                    allowed="a free port (--port) on a local address "
                                            "(--host)") from None


def prepare_demo(registry, *, echo=typer.echo) -> str | None:
    """Seed the synthetic demo cohort and a demo clinician into an empty registry.

    Returns the demo user's password when the user was created now (it is
    shown once and stored only as a hash), else None.
    """
    import secrets

    if registry.count_patients() == 0:
        from resorb.registry._demo import seed_demo

        counts = seed_demo(registry)
        echo(f"Seeded the synthetic demo registry: {counts['patients']} fictional patients "
             f"(no patient data).")
    if registry.get_user(DEMO_USER) is not None:
        return None
    password = secrets.token_urlsafe(12)
    registry.add_user(DEMO_USER, password, role="admin", actor=DEMO_USER)
    return password


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="Address to listen on (default loopback only; put a "
                                      "TLS-terminating reverse proxy in front of any other)."),
        demo: bool = typer.Option(False, "--demo",
                                  help="Seed a synthetic demo registry and a demo user "
                                       "if the database is empty."),
    ) -> None:
        """Run the web app (migrates the registry schema first)."""
        from resorb.errors import require_extra
        from resorb.registry import Registry
        from resorb.web import create_app

        uvicorn = require_extra("uvicorn", "web")
        check_port_free(host, port)
        registry = Registry(db)
        registry.upgrade()
        password = prepare_demo(registry) if demo else None
        application = create_app(db, registry=registry)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
        typer.echo(f"resorb web app: {url}  (registry {registry.url}; Ctrl+C to stop)")
        if password:
            typer.echo(f"Demo login: user {DEMO_USER!r}, password {password!r} "
                       "(shown once; stored only as a hash)")
        elif demo:
            typer.echo(f"Demo login: user {DEMO_USER!r} exists already; its password was shown "
                       "when it was created (or create another with `resorb user add`).")
        if not _is_loopback(host):
            typer.echo("warning: listening beyond loopback without TLS; serve it behind a "
                       "reverse proxy that terminates HTTPS.", err=True)
        try:
            uvicorn.run(application, host=host, port=port, log_level="info",
                        proxy_headers=True, server_header=False)
        finally:
            registry.close()
