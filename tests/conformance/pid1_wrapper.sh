#!/bin/sh
# PID-1 wrapper of the golden conformance runner (tests/conformance/replay.py).
#
# Usage: pid1_wrapper.sh WORKDIR COMMAND...   (COMMAND is e.g. env -i PATH=... init ...)
#
# Runs in the replay's private mount and network namespaces (never on the host's).
# It gives the PID-1 run the setting of tests/conformance/golden/README.md ("PID-1 mode"):
#   * /run/utmp and /var/log/wtmp are fresh empty files (telinit and runlevel use them);
#     /run is a private tmpfs here, so no file is created on the host;
#   * /dev/console is bound to WORKDIR/console and /dev/kmsg to the regular file
#     WORKDIR/kmsg (our init appends "<N>init: message" lines to it: the log);
# then runs COMMAND as PID 1 of a new PID namespace (the caller passes
# "env -i VAR=VALUE... INIT ARGS..." so that init gets exactly its environment).
# unshare --kill-child ties init's namespace to this process.
set -eu

work=$1
shift

: >"$work/utmp"
: >"$work/wtmp"
: >"$work/console"
: >"$work/kmsg"

mount -t tmpfs -o mode=0755 tmpfs-golden /run
mkdir -p /run/lock /run/shm
: >/run/utmp
mount --bind "$work/utmp" /run/utmp
if [ ! -e /var/log/wtmp ]; then
    mount -t tmpfs -o mode=0755 tmpfs-golden /var/log
    : >/var/log/wtmp
fi
mount --bind "$work/wtmp" /var/log/wtmp
mount --bind "$work/console" /dev/console
mount --bind "$work/kmsg" /dev/kmsg

cd /
exec unshare --pid --fork --kill-child --mount-proc "$@"
