"""Users: argon2 password hashes, duplicates refused, authentication."""

from __future__ import annotations

import pytest

from resorb.errors import InvalidInputError
from resorb.registry import RecordNotFoundError, hash_password, verify_password


def test_password_hash_is_argon2id_and_verifies_with_argon2_cffi():
    """Peer: argon2-cffi's own PasswordHasher verifies the stored PHC string."""
    import argon2

    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(h, "correct horse battery")
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "Correct horse battery")
    assert not verify_password("not a hash", "correct horse battery")
    assert hash_password("correct horse battery") != h  # salted


@pytest.mark.parametrize("password", ["", "   ", "short"])
def test_empty_or_short_passwords_are_refused(password):
    with pytest.raises(InvalidInputError, match="password"):
        hash_password(password)


def test_add_user_authenticate_and_deactivate(registry):
    u = registry.add_user("rita", "a long passphrase", role="researcher", actor="admin-cli")
    assert (u.username, u.role, u.active) == ("rita", "researcher", True)
    assert registry.authenticate("rita", "a long passphrase") == u
    assert registry.authenticate("rita", "wrong passphrase") is None
    assert registry.authenticate("nobody", "a long passphrase") is None
    with pytest.raises(InvalidInputError, match="already exists"):
        registry.add_user("rita", "another passphrase")
    with pytest.raises(InvalidInputError, match="role"):
        registry.add_user("sam", "a long passphrase", role="superuser")
    with pytest.raises(InvalidInputError, match="username"):
        registry.add_user("two words", "a long passphrase")
    registry.set_user_active("rita", False, actor="admin-cli")
    assert registry.authenticate("rita", "a long passphrase") is None
    with pytest.raises(RecordNotFoundError):
        registry.set_user_active("nobody", False, actor="admin-cli")
    assert [x.username for x in registry.list_users()] == ["rita"]
    # The hash never reaches the audit log.
    stored = [a for a in registry.audit_log(table="users")]
    assert stored and all(
        a["diff"]["after"] is None
        or a["diff"]["after"].get("password_hash") in (None, "<redacted>")
        for a in stored
    )
    assert "$argon2" not in repr(registry.audit_log())


def test_set_user_password_replaces_the_hash_and_checks_the_policy(registry):
    registry.add_user("nurse", "first-long-password", role="clinician")
    with pytest.raises(InvalidInputError, match="password"):
        registry.set_user_password("nurse", "short", actor="nurse")
    assert registry.authenticate("nurse", "first-long-password") is not None
    registry.set_user_password("nurse", "second-long-password", actor="nurse")
    assert registry.authenticate("nurse", "first-long-password") is None
    assert registry.authenticate("nurse", "second-long-password") is not None
    with pytest.raises(RecordNotFoundError, match="nobody"):
        registry.set_user_password("nobody", "third-long-password", actor="nurse")
