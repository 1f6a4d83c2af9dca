#!/bin/sh
# Install the system programs the test suite and the tools use, if missing.
# Idempotent; quiet when everything is there. Needs root (apt-get) to install;
# without root it only reports what is missing (the tests that need a missing
# program skip with a reason).
set -u
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have dbus-send      || need="$need dbus"
have dbus-daemon    || need="$need dbus-daemon"
have dot            || need="$need graphviz"
have rsvg-convert   || need="$need librsvg2-bin"
have groff          || need="$need groff"
have man            || need="$need man-db"
have setpriv        || need="$need util-linux"
have nsenter        || need="$need util-linux"
have gcc            || need="$need gcc"
have dconf          || need="$need dconf-cli"
[ -x /usr/libexec/dconf-service ] || need="$need dconf-service"
have apparmor_parser || need="$need apparmor"
# the Debian VM (vm/debian.py, make vm-debian): a root file system from
# Debian's packages, an ext4 image made from a directory, qemu
have mmdebstrap     || need="$need mmdebstrap"
have mke2fs         || need="$need e2fsprogs"
have qemu-system-x86_64 || need="$need qemu-system-x86"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
    echo "setup-system: missing packages:$need (install them to run every test)" >&2
    exit 0
fi
echo "setup-system: installing$need" >&2
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null 2>&1 || \
    echo "setup-system: could not install:$need" >&2
exit 0
