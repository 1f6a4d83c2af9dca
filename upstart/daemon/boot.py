"""PID 1's early set-up: what a kernel leaves undone before init runs.

Only as PID 1 of a system, in 1.13's order (spec 05 §2): a new session; the
devices (when `/dev/ptmx` or `/dev/pts` is missing, a devtmpfs on `/dev`,
`/dev/ptmx` and `/dev/pts` made; devpts on `/dev/pts`; then `/dev/null`,
`/dev/tty`, `/dev/console` and `/dev/kmsg` made where they are missing); stdio
on `/dev/console` with the terminal reset to sane settings (or `/dev/null` when
there is no console); the default PATH, `/` as working directory, and `/proc`,
`/sys` and `/run` mounted where they are missing (a container or an initramfs
usually did it already; we never mount over something). Every failure is
logged and boot goes on.

`accept_keyboard_request()` asks the console for SIGWINCH on Alt-Up
(KDSIGACCEPT): only a virtual terminal can, so PID 1 installs its
`keyboard-request` handler only when the console said yes.
"""

from __future__ import annotations

import ctypes
import os
import stat

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
KDSIGACCEPT = 0x4B4E

# path, mode, major, minor: the nodes 1.13 makes when they are missing
_NODES = (
    ("/dev/null", 0o666, 1, 3),
    ("/dev/tty", 0o666, 5, 0),
    ("/dev/console", 0o600, 5, 1),
    ("/dev/kmsg", 0o600, 1, 11),
)

_MOUNTS = (
    # target, fstype, flags, data, needed when this path is missing
    ("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/proc/self"),
    ("/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/sys/kernel"),
    ("/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", None),
)


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> str | None:
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(source.encode(), target.encode(), fstype.encode(), flags,
                    data.encode() if data else None)
    if rc != 0:
        return os.strerror(ctypes.get_errno())
    return None


def _is_node(path: str, kind: int, major: int = 0, minor: int = 0) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    if stat.S_IFMT(st.st_mode) != kind:
        return False
    return kind != stat.S_IFCHR or (os.major(st.st_rdev), os.minor(st.st_rdev)) == (major,
                                                                                  minor)


def _mknod(path: str, mode: int, major: int, minor: int, log) -> None:
    """The node, with exactly `mode` (umask 0 meanwhile, as 1.13); one that
    exists already (a file bound there, a devtmpfs node) is left alone."""
    old = os.umask(0)
    try:
        os.mknod(path, stat.S_IFCHR | mode, os.makedev(major, minor))
    except FileExistsError:
        pass
    except OSError as exc:
        log("error", f"Unable to create device {path}: {exc.strerror}")
    finally:
        os.umask(old)


def setup_devices(log) -> None:
    """/dev as 1.13 leaves it: a devtmpfs when `/dev/ptmx` (char 5,2) or
    `/dev/pts` is missing, devpts on `/dev/pts`, and the four nodes init
    itself needs."""
    if not _is_node("/dev/ptmx", stat.S_IFCHR, 5, 2) or not os.path.isdir("/dev/pts"):
        err = _mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
        if err:
            log("error", f"Unable to mount /dev filesystem: {err}")
        _mknod("/dev/ptmx", 0o666, 5, 2, log)      # needed before /dev/pts is used
        try:
            os.mkdir("/dev/pts", 0o755)
        except FileExistsError:
            pass
        except OSError as exc:
            log("error", f"Cannot create directory: /dev/pts: {exc.strerror}")
    if not os.path.exists("/dev/pts/ptmx"):
        err = _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620")
        if err:
            log("error", f"Unable to mount /dev/pts filesystem: {err}")
    for path, mode, major, minor in _NODES:
        _mknod(path, mode, major, minor, log)


def reset_terminal(fd: int) -> None:
    """The console's line settings made sane (a previous program, or the
    boot loader, may have left it raw): sysvinit's settings, as 1.13."""
    import termios

    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    keep = termios.CBAUD | termios.CBAUDEX | termios.CSIZE | termios.CSTOPB | \
        termios.PARENB | termios.PARODD
    cflag = (cflag & keep) | termios.HUPCL | termios.CLOCAL | termios.CREAD
    keys = {termios.VINTR: 3, termios.VQUIT: 28, termios.VERASE: 127, termios.VKILL: 24,
            termios.VEOF: 4, termios.VTIME: 0, termios.VMIN: 1, termios.VSTART: 17,
            termios.VSTOP: 19, termios.VSUSP: 26}
    cc = list(cc)
    for index, value in keys.items():
        cc[index] = bytes([value]) if isinstance(cc[index], bytes) else value
    iflag = termios.IGNPAR | termios.ICRNL | termios.IXON | termios.IXANY
    oflag = termios.OPOST | termios.ONLCR
    lflag = termios.ISIG | termios.ICANON | termios.ECHO | termios.ECHOCTL | \
        termios.ECHOPRT | termios.ECHOKE
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])
    termios.tcflush(fd, termios.TCIOFLUSH)


def setup_console(log, reset: bool) -> None:
    """stdin, stdout and stderr on /dev/console (its terminal reset when
    `reset`), else on /dev/null."""
    try:
        fd = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        log("warn", f"Unable to initialize console, will try /dev/null: {exc.strerror}")
        try:
            fd = os.open("/dev/null", os.O_RDWR | os.O_NOCTTY)
        except OSError as exc2:
            log("fatal", f"Unable to initialize console as /dev/null: {exc2.strerror}")
            return       # PID 1 goes on without stdio rather than die
        reset = False
    _onto_stdio(fd)
    if reset:
        try:
            reset_terminal(0)
        except Exception:    # termios.error: not a terminal (a file): nothing to reset
            pass


def _onto_stdio(fd: int) -> None:
    for target in (0, 1, 2):
        try:
            os.dup2(fd, target)
        except OSError:
            pass
    if fd > 2:
        os.close(fd)


def early_setup(log) -> None:
    """`log(priority, message)` receives every problem."""
    try:
        os.setsid()
    except OSError:
        pass
    setup_devices(log)
    setup_console(log, reset=True)
    os.environ["PATH"] = DEFAULT_PATH
    try:
        os.chdir("/")
    except OSError as exc:
        log("warn", f"Unable to set root directory: {exc.strerror}")
    for target, fstype, flags, data, probe in _MOUNTS:
        if probe is not None and os.path.exists(probe):
            continue
        if probe is None and (not os.path.isdir(target) or os.path.ismount(target)):
            continue
        try:
            os.makedirs(target, exist_ok=True)
        except OSError:
            pass
        err = _mount("none", target, fstype, flags, data)
        if err:
            log("warn", f"Unable to mount {target} filesystem: {err}")


def accept_keyboard_request(signum: int) -> str | None:
    """Ask the console on stdin to send `signum` on Alt-Up (KDSIGACCEPT, as
    1.13 does); None when it agreed, else why not (only a virtual terminal
    can)."""
    import fcntl

    try:
        fcntl.ioctl(0, KDSIGACCEPT, signum)
    except OSError as exc:
        return exc.strerror
    return None
