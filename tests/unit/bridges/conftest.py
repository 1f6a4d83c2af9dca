"""Fixtures for the bridge unit tests: a real control server backed by the
in-memory daemon double (`backend.emitted` records every event)."""

import os
import sys

import pytest

from control_harness import ServerThread
from membackend import MemoryBackend

sys.path.insert(0, os.path.dirname(__file__))      # bridge_peer.py


@pytest.fixture
def backend():
    return MemoryBackend()


@pytest.fixture
def server(backend):
    with ServerThread(backend) as st:
        yield st
