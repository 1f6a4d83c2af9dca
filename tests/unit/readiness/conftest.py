"""Fixtures for the readiness tests: `loop`, init's reactor (the loop the
readiness sources run on in PID 1), turned by the test (tests/support/waiting.py)."""

import pytest

from waiting import reactor  # noqa: F401


@pytest.fixture
def loop(reactor):  # noqa: F811
    return reactor
