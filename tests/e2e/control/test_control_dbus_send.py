"""The real third-party client: libdbus's dbus-send --peer against our
server (SASL, marshalling, replies, errors and introspection as libdbus
sees them)."""

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("dbus-send") is None,
                                reason="dbus-send not installed (apt-get install dbus)")


def dbus_send(server, path, method, *args):
    p = subprocess.run(["dbus-send", "--peer=" + server.address, "--print-reply", path,
                        method, *args], capture_output=True, text=True, timeout=30)
    body = p.stdout.split("\n", 1)[1] if p.returncode == 0 else ""
    return p.returncode, body, p.stderr


def test_get_all_jobs_and_get_job_by_name(server):
    rc, out, err = dbus_send(server, "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6.GetAllJobs")
    assert rc == 0, err
    assert 'object path "/com/ubuntu/Upstart/jobs/rc_2dsysinit"' in out
    assert 'object path "/com/ubuntu/Upstart/jobs/net_2fapache"' in out
    rc, out, _ = dbus_send(server, "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6.GetJobByName",
                           "string:svc")
    assert (rc, out.strip()) == (0, 'object path "/com/ubuntu/Upstart/jobs/svc"')
    rc, out, err = dbus_send(server, "/com/ubuntu/Upstart",
                             "com.ubuntu.Upstart0_6.GetJobByName", "string:nosuch")
    assert rc == 1
    assert err.strip() == "Error com.ubuntu.Upstart0_6.Error.UnknownJob: Unknown job: nosuch"


def test_start_processes_and_stop(server, backend):
    rc, out, err = dbus_send(server, "/com/ubuntu/Upstart/jobs/svc",
                             "com.ubuntu.Upstart0_6.Job.Start", "array:string:", "boolean:true")
    assert (rc, out.strip()) == (0, 'object path "/com/ubuntu/Upstart/jobs/svc/_"'), err
    rc, out, _ = dbus_send(server, "/com/ubuntu/Upstart/jobs/svc/_",
                           "org.freedesktop.DBus.Properties.Get",
                           "string:com.ubuntu.Upstart0_6.Instance", "string:processes")
    assert rc == 0
    assert out.split() == ["variant", "array", "[", "struct", "{", "string", '"main"',
                           "int32", "1001", "}", "]"]
    rc, out, _ = dbus_send(server, "/com/ubuntu/Upstart/jobs/svc",
                           "com.ubuntu.Upstart0_6.Job.Stop", "array:string:", "boolean:true")
    assert (rc, out.strip()) == (0, "")
    assert backend.instances["svc"] == {}


def test_emit_event(server, backend):
    rc, _, err = dbus_send(server, "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6.EmitEvent",
                           "string:hello", "array:string:A=1,B=2", "boolean:true")
    assert rc == 0, err
    assert backend.emitted == [("hello", ["A=1", "B=2"], None)]
    rc, _, err = dbus_send(server, "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6.EmitEvent",
                           "string:hello", "array:string:NOKV", "boolean:true")
    assert rc == 1
    assert err.strip() == ("Error org.freedesktop.DBus.Error.InvalidArgs: "
                           "Env must be KEY=VALUE pairs")


def test_introspect(server):
    rc, out, err = dbus_send(server, "/com/ubuntu/Upstart",
                             "org.freedesktop.DBus.Introspectable.Introspect")
    assert rc == 0, err
    assert '<interface name="com.ubuntu.Upstart0_6">' in out
    assert '<property name="log_priority" type="s" access="readwrite"/>' in out
    assert '<node name="jobs"/>' in out


def test_unknown_method_text(server):
    rc, _, err = dbus_send(server, "/com/ubuntu/Upstart", "com.ubuntu.Upstart0_6.Frobnicate")
    assert rc == 1
    assert err.strip() == ('Error org.freedesktop.DBus.Error.UnknownMethod: Method '
                           '"Frobnicate" with signature "" on interface '
                           '"com.ubuntu.Upstart0_6" doesn\'t exist')
