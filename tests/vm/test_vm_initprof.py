"""vm/initprof.py's report, from a profile shaped as the sampler writes it
(booting is for `python -m vm.initprof`, not the suite)."""

from vm.initprof import SAMPLER, summary


def test_the_report_splits_imports_from_the_rest():
    imp = ["<frozen importlib._bootstrap>:_find_and_load:1178",
           "pyroute2/netlink/__init__.py:<module>:1",
           "<frozen importlib._bootstrap>:_find_and_load:1178",
           "upstart/readiness/socketsrc.py:_query:181",
           "upstart/daemon/daemon.py:run:600", "sbin/init-prof:<module>:44"]
    imp = imp[1:2] + imp[0:1] + imp[2:]                  # innermost first, as sampled
    work = ["upstart/control/wire.py:_simple_put:90", "upstart/control/server.py:broadcast:12",
            "upstart/daemon/daemon.py:run:600"]
    text = summary({"t0": 6.5, "n": 4, "samples": [[7.0, imp, 3], [7.5, work, 1]]})
    assert text.splitlines()[0] == ("4 samples of 5 ms of init's CPU from 6.50 s "
                                    "(kernel clock); in imports: 3 (75 %)")
    assert "      3  upstart/readiness/socketsrc.py:_query:181" in text
    assert "      3  pyroute2/netlink/__init__.py" in text
    assert "      1  upstart/control/wire.py:_simple_put" in text


def test_the_sampler_is_python_and_runs_init():
    compile(SAMPLER, "init-prof", "exec")
    assert "ITIMER_PROF" in SAMPLER and "from upstart.cli.init import main" in SAMPLER


def test_the_sampler_never_raises_into_the_frame_it_interrupts(tmp_path, monkeypatch):
    """A frozen importlib frame has no line number (f_lineno None): the
    sampler once raised on it and PID 1 died. Run the handler on such a frame
    and on an ordinary one; it must record both and raise nothing."""
    import signal
    ns: dict = {}
    src = SAMPLER.split("signal.signal(signal.SIGPROF")[0].replace("#!/usr/bin/python3\n", "")
    src = src.replace("/run/init-prof.json", str(tmp_path / "p.json"))
    exec(compile(src, "init-prof", "exec"), ns)

    class Code:
        co_filename, co_name = "<frozen importlib._bootstrap_external>", "find_spec"

    class Frozen:
        f_code, f_lineno, f_back = Code, None, None
    ns["_sample"](signal.SIGPROF, Frozen)
    import sys
    ns["_sample"](signal.SIGPROF, sys._getframe())
    assert ns["_state"][1] == 2
    keys = [k for _t, k in ns["_S"]]
    assert keys[0] == ("<frozen importlib._bootstrap_external>:find_spec:None",)
