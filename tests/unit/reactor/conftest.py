"""The loop every reactor test runs on; what its report hook was given is in
`loop.errors` (message, exception)."""

import pytest

from upstart.reactor.loop import Reactor


@pytest.fixture
def loop():
    errors: list = []
    reactor = Reactor(report=lambda message, exc: errors.append((message, exc)))
    reactor.errors = errors
    yield reactor
    reactor.close()
