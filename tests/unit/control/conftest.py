"""Fixtures for the control-plane tests: see upstart.control.pytest_fixtures."""

from upstart.control.pytest_fixtures import backend, conn, sample_jobs, server  # noqa: F401
