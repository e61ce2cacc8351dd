"""Password hashing: the production parameters (the test process hashes at the lowest cost, see
tests/conftest.py), and hashes made with other parameters still verify."""

import subprocess
import sys

import pytest
from argon2 import PasswordHasher, profiles

from yiyang.core import security

pytestmark = pytest.mark.unit


def test_a_process_without_the_test_settings_hashes_with_rfc_9106_parameters() -> None:
    code = "from yiyang.core.security import hash_password; print(hash_password('Yiyang@2026'))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(out, "Yiyang@2026")
    assert not security.verify_password(out, "yiyang@2026")


def test_hashes_verify_whatever_parameters_made_them() -> None:
    old = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("a pass phrase")
    assert security.verify_password(old, "a pass phrase")
    assert not security.verify_password(old, "a pass phrase ")
    assert not security.verify_password("not a hash", "a pass phrase")
    assert security.hash_password("x") != security.hash_password("x")  # salted
