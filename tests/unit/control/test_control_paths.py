"""Object-path escaping: upstream's rules, and that escaping is invertible."""

from hypothesis import given
from hypothesis import strategies as st

from upstart.control import paths


def test_escape_examples():
    assert paths.escape("rc-sysinit") == "rc_2dsysinit"
    assert paths.escape("net/apache") == "net_2fapache"
    assert paths.escape("") == "_"
    assert paths.escape("a_b") == "a_5fb"
    assert paths.escape("tty1") == "tty1"
    assert paths.escape("é") == "_c3_a9"          # every byte of the UTF-8 text
    assert paths.instance_path("ssh", "") == "/com/ubuntu/Upstart/jobs/ssh/_"
    assert paths.instance_path("network-interface", "eth0") == \
        "/com/ubuntu/Upstart/jobs/network_2dinterface/eth0"


def test_parse():
    assert paths.parse("/com/ubuntu/Upstart") == ("manager",)
    assert paths.parse("/com/ubuntu/Upstart/jobs/net_2fapache") == ("job", "net/apache")
    assert paths.parse("/com/ubuntu/Upstart/jobs/ssh/_") == ("instance", "ssh", "")
    for bad in ("/", "/com/ubuntu/Upstart/jobs", "/com/ubuntu/Upstart/jobs/a/b/c",
                "/com/ubuntu/Upstart/jobs/a_2", "/com/ubuntu/Upstart/jobs/a_zz",
                "/com/ubuntu/Upstart/jobs/_41",      # "A" must not be escaped
                "/com/ubuntu/Upstart/jobs/_2D",      # hex digits are lowercase
                "/com/ubuntu/Upstart/jobs/"):
        assert paths.parse(bad) is None, bad


@given(st.text())
def test_roundtrip(name):
    element = paths.escape(name)
    assert all(c.isascii() and (c.isalnum() or c == "_") for c in element)
    assert paths.unescape(element) == name
    assert paths.parse(paths.job_path(name)) == ("job", name)


def test_session_paths():
    root = "/srv/my-chroot"
    assert paths.job_path("ssh", root) == "/com/ubuntu/Upstart/jobs/_2fsrv_2fmy_2dchroot/ssh"
    assert paths.instance_path("ssh", "", root) == \
        "/com/ubuntu/Upstart/jobs/_2fsrv_2fmy_2dchroot/ssh/_"
    assert paths.parse_scoped(paths.job_path("ssh", root)) == (root, ("job", "ssh"))
    assert paths.parse_scoped(paths.instance_path("net/if", "eth0", root)) == (
        root, ("instance", "net/if", "eth0"))
    # global paths keep their meaning
    assert paths.parse_scoped("/com/ubuntu/Upstart") == (None, ("manager",))
    assert paths.parse_scoped("/com/ubuntu/Upstart/jobs/ssh/_") == (None, ("instance", "ssh", ""))
    for bad in ("/com/ubuntu/Upstart/jobs/_2fsrv",             # a root alone: no object
                "/com/ubuntu/Upstart/jobs/_2fsrv/a/b/c",
                "/com/ubuntu/Upstart/jobs/_2fsrv/_41",
                "/com/ubuntu/Upstart/jobs/a/b/c"):
        assert paths.parse_scoped(bad) is None, bad


@given(st.text(min_size=1).map(lambda t: "/" + t), st.text(), st.text())
def test_session_roundtrip(root, job, instance):
    assert paths.parse_scoped(paths.job_path(job, root)) == (root, ("job", job))
    assert paths.parse_scoped(paths.instance_path(job, instance, root)) == (
        root, ("instance", job, instance))
