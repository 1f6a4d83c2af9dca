"""Fixtures for the control-plane tests: see control_fixtures (tests/support)."""

from control_fixtures import backend, conn, sample_jobs, server  # noqa: F401
