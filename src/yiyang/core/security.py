"""Password hashing (argon2id) and opaque session/API tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106's second recommended option (argon2id, 3 passes, 64 MiB, 4 lanes): ~50-70 ms of wall
# time a hash here (4 threads). A hash carries its own parameters: older ones keep verifying.
PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(PARAMETERS)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A fixed hash verified when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH: str | None = None


def burn_verify(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-password")
    verify_password(_DUMMY_HASH, password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
