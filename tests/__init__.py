"""The test suite, a package so that its support code is too (tests.support). pytest rewrites the
asserts in that code as it does in the tests, so a helper's failed assert shows its values."""
import pytest

pytest.register_assert_rewrite("tests.support")
