"""Pages: user administration (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from resorb.errors import InvalidInputError
from resorb.registry import ROLES
from resorb.web._auth import Principal, check_csrf, require_page_role
from resorb.web._pages import (
    User,
    redirect,
    render,
    state,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _require_admin(user: Principal) -> None:
    require_page_role(user, frozenset({"admin"}), "manage users")


@router.get("/admin/users")
def users(request: Request, user: User) -> HTMLResponse:
    _require_admin(user)
    return render(
        request,
        "users.html",
        {
            "users": state(request).registry.list_users(),
            "roles": ROLES,
            "values": {},
            "errors": {},
            "nav": "users",
        },
        user=user,
    )


@router.post("/admin/users")
async def add_user(request: Request, user: User) -> Response:
    _require_admin(user)
    form = await check_csrf(request)
    reg = state(request).registry
    name = str(form.get("username", "")).strip()
    role = str(form.get("role", "clinician"))
    try:
        reg.add_user(name, str(form.get("password", "")), role=role, actor=user.username)
    except InvalidInputError as exc:
        values = {"username": name, "role": role}
        return render(
            request,
            "users.html",
            {
                "users": reg.list_users(),
                "roles": ROLES,
                "values": values,
                "errors": {
                    exc.field: exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
                },
                "nav": "users",
            },
            status_code=422,
            user=user,
        )
    return redirect("/admin/users", f"User {name} ({role}) created.", request=request)


@router.post("/admin/users/{username}/active")
async def set_active(request: Request, user: User, username: str) -> Response:
    _require_admin(user)
    form = await check_csrf(request)
    active = form.get("active") == "1"
    if username == user.username and not active:
        raise HTTPException(status_code=422, detail="You cannot deactivate yourself.")
    state(request).registry.set_user_active(username, active, actor=user.username)
    return redirect(
        "/admin/users",
        f"User {username} {'activated' if active else 'deactivated'}.",
        request=request,
    )
