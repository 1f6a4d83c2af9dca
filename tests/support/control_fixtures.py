"""pytest fixtures for the control plane's tests: a live server over a real
socket, backed by the in-memory test double of the daemon (`membackend`).

Test support, like `control_harness` and `membackend`: the unit and end-to-end test
folders both import these into their conftest. Never used by init itself.
"""

import pytest

from upstart.control.client import Connection
from control_harness import ServerThread
from membackend import MemoryBackend, ToyJob


def sample_jobs():
    return [
        ToyJob("svc", description="a service", author="me", version="1.0"),
        ToyJob("rc-sysinit", task=True),
        ToyJob("net/apache"),
        ToyJob("inst", instance_var="N", usage="inst N=<name>"),
        ToyJob("abstract", has_main=False),
        ToyJob("cond", emits=["thing-*"], start_on=[["a"], ["b", "X=1"], ["/OR"]],
               stop_on=[["stopping", "svc"]]),
    ]


@pytest.fixture
def backend():
    return MemoryBackend(sample_jobs())


@pytest.fixture
def server(backend):
    with ServerThread(backend) as st:
        yield st


@pytest.fixture
def conn(server):
    c = Connection(server.address)
    yield c
    c.close()
