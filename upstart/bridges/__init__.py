"""Bridges: small programs that turn outside happenings into init events.

A bridge is an ordinary job-supervised process (spec 06 §1-§7): it watches
one source (udev, inotify, listening sockets, a D-Bus bus, the system init,
a local socket's lines, dconf)
and calls init's `EmitEvent`/`EmitEventWithFile` over D-Bus. Bridges that
only care about what jobs wait for read the jobs' `start_on`/`stop_on` RPN
properties and follow `JobAdded`/`JobRemoved`.

Layout: pure logic (`conditions`, `udev_env`, `linkstate`, `filewatch`,
`sockspec`, `dbus_env`, `sysevents`) is separate from the I/O shells (`udev`
with its rtnetlink `netlink`, `file`, `socket`, `dbus`, `event`; `local` and
`dconf` keep their few pure helpers beside their I/O) and the
shared plumbing (`link`: the connection, on the reactor, to
init or a bus with a bounded emitter; `jobs`: the job-interest watcher;
`common`: options, address choice, logging, the run loop).

A bridge never runs inside PID 1, never retries forever against a missing
init (it exits and its job's `respawn` restarts it) and never floods init:
emits go through a bounded window and backlog.
"""
