"""Fixtures for the readiness tests: `loop`, an asyncio loop the test turns
(tests/support/waiting.py)."""

from waiting import loop  # noqa: F401
