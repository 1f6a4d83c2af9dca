"""pytest set-up of the golden conformance tests: the ``golden`` marker."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "golden: replays a recorded Upstart 1.13.2 transcript against our init "
        "(tests/conformance; run in parallel with -n 8)",
    )
