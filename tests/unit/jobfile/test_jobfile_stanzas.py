"""Every stanza: the value it stores, its defaults, and each error with its line."""

import signal

import pytest

from upstart.jobfile.model import CGroup, JobClass, Match, ParseError, Process
from upstart.jobfile.parser import STANZAS, parse_job


def parse(text: str) -> JobClass:
    return parse_job(text, "job", path="/etc/init/job.conf")


def test_defaults_are_upstreams():
    cls = parse("")
    assert cls.name == "job" and cls.path == "/etc/init/job.conf"
    assert (cls.expect, cls.task, cls.respawn) == ("none", False, False)
    assert (cls.respawn_limit, cls.respawn_interval, cls.kill_timeout) == (10, 5, 5)
    assert (cls.kill_signal, cls.reload_signal) == (signal.SIGTERM, signal.SIGHUP)
    assert cls.process == {} and cls.start_on is None and cls.console is None


def test_all_35_keywords_and_the_roadmap_ones_are_known():
    upstream = {
        "instance", "description", "author", "version", "env", "export", "start",
        "stop", "emits", "exec", "script", "pre-start", "post-start", "pre-stop",
        "post-stop", "expect", "task", "kill", "respawn", "normal", "console",
        "umask", "nice", "oom", "limit", "chroot", "chdir", "setuid", "setgid",
        "debug", "manual", "usage", "reload", "apparmor", "cgroup",
    }
    assert len(upstream) == 35
    assert set(STANZAS) == upstream | {"while", "ready", "state"}


@pytest.mark.parametrize("text, attr, value", [
    ("description 'a job'\n", "description", "a job"),
    ("author me\n", "author", "me"),
    ("version 1.2\n", "version", "1.2"),
    ('usage "start j X=1"\n', "usage", "start j X=1"),
    ("instance $TTY\n", "instance", "$TTY"),
    ("chroot /srv\n", "chroot", "/srv"),
    ("chdir /tmp\n", "chdir", "/tmp"),
    ("setuid nobody\n", "setuid", "nobody"),
    ("setgid nogroup\n", "setgid", "nogroup"),
    ("description a\ndescription b\n", "description", "b"),
    ("env A=1\nenv B\nenv A=2\n", "env", ["A=1", "B", "A=2"]),
    ("export A B\nexport C\n", "export", ["A", "B", "C"]),
    ("emits a b*\nemits c\n", "emits", ["a", "b*", "c"]),
    ("task\n", "task", True),
    ("task # c\n", "task", True),
    ("respawn\n", "respawn", True),
    ("expect fork\n", "expect", "fork"),
    ("expect daemon\n", "expect", "daemon"),
    ("expect stop\n", "expect", "stop"),
    ("expect stop\nexpect none\n", "expect", "none"),
    ("console output\n", "console", "output"),
    ("console owner\n", "console", "owner"),
    ("console none\n", "console", "none"),
    ("console log\n", "console", "log"),
    ("umask 027\n", "umask", 0o27),
    ("umask 0\n", "umask", 0),
    ("umask 777\n", "umask", 0o777),
    ("nice -20\n", "nice", -20),
    ("nice 19\n", "nice", 19),
    ("nice +5\n", "nice", 5),
    ("oom score 1000\n", "oom_score", 1000),
    ("oom score -1000\n", "oom_score", -1000),
    ("oom score never\n", "oom_score", -1000),
    ("oom never\n", "oom_score", -1000),
    ("oom 15\n", "oom_score", 1000),
    ("oom -17\n", "oom_score", -1000),
    ("oom -5\n", "oom_score", -294),      # C division truncates towards zero
    ("oom 7\n", "oom_score", 466),
    ("kill timeout 30\n", "kill_timeout", 30),
    ("kill timeout 0\n", "kill_timeout", 0),
    ("kill signal INT\n", "kill_signal", 2),
    ("kill signal SIGUSR1\n", "kill_signal", 10),
    ("kill signal 9\n", "kill_signal", 9),
    ("kill signal 99\n", "kill_signal", 99),   # numbers are not range-checked
    ("reload signal USR2\n", "reload_signal", 12),
    ("reload signal 1\n", "reload_signal", 1),
    ("normal exit 0 1 TERM SIGHUP\n", "normal_exit", [0, 1, 15 << 8, 1 << 8]),
    ("normal exit 2\nnormal exit 3\n", "normal_exit", [2, 3]),
    ("respawn limit 3 20\n", "respawn_limit", 3),
    ("respawn limit 3 20\n", "respawn_interval", 20),
    ("respawn limit unlimited\n", "respawn_limit", 0),
    ("respawn limit unlimited\n", "respawn_interval", 0),
    ("respawn limit 0 0\n", "respawn_limit", 0),
    ("respawn limit 5 6\n", "respawn", False),  # the limit alone does not enable respawn
    ("limit nofile 10 20\n", "limits", {"nofile": (10, 20)}),
    ("limit core unlimited unlimited\n", "limits", {"core": (None, None)}),
    ("limit nofile 1 2\nlimit nofile 3 4\nlimit cpu 5 unlimited\n", "limits",
     {"nofile": (3, 4), "cpu": (5, None)}),
    ("limit nofile -1 -1\n", "limits", {"nofile": (None, None)}),   # strtoul wraps to infinity
    ("apparmor load /etc/apparmor.d/x\n", "apparmor_load", "/etc/apparmor.d/x"),
    ("apparmor switch /usr/bin/x\n", "apparmor_switch", "/usr/bin/x"),
    ("debug\n", "debug", True),
])
def test_stanza_values(text, attr, value):
    assert getattr(parse(text), attr) == value


def test_apparmor_load_makes_the_security_process_as_1_13():
    cls = parse("apparmor load /etc/apparmor.d/a\napparmor load /etc/apparmor.d/b\n")
    assert cls.process["security"] == Process(False, "/sbin/apparmor_parser -r -W "
                                                     "/etc/apparmor.d/b")
    assert "security" not in parse("apparmor switch x\n").process


@pytest.mark.parametrize("slot", ["pre-start", "post-start", "pre-stop", "post-stop"])
def test_process_stanzas_exec_and_script(slot):
    cls = parse(f"{slot} exec /bin/true -x\n")
    assert cls.process[slot] == Process(False, "/bin/true -x")
    cls = parse(f"{slot} script\n  echo hi\nend script\n")
    assert cls.process[slot] == Process(True, "echo hi\n")


def test_main_process_last_wins_d7():
    cls = parse("exec /bin/a\nscript\n b\nend script\n")
    assert cls.process["main"] == Process(True, "b\n")
    cls = parse("script\n b\nend script\nexec /bin/a\n")
    assert cls.process["main"] == Process(False, "/bin/a")


def test_start_and_stop_on():
    cls = parse("start on startup\nstop on runlevel [!2345]\nstart on other\n")
    assert cls.start_on == Match("other")
    assert cls.stop_on == Match("runlevel", ("[!2345]",))


def test_manual_drops_earlier_start_on_only():
    assert parse("start on ev\nmanual\n").start_on is None
    assert parse("manual\nstart on ev\n").start_on == Match("ev")


def test_manual_and_debug_do_not_consume_the_line_d4():
    cls = parse("manual task\ndebug respawn\n")
    assert cls.task and cls.respawn and cls.debug
    with pytest.raises(ParseError) as ei:
        parse("manual foo\n")
    assert (ei.value.message, ei.value.line) == ("Unknown stanza", 1)


def test_cgroup_forms_and_merge():
    cls = parse(
        "cgroup memory\n"
        "cgroup cpu grp\n"
        "cgroup cpuset cpus 0\n"
        "cgroup blkio grp weight 10\n"
        "cgroup blkio grp weight 20\n"
        'cgroup cpu grp shares ""\n'
    )
    assert cls.cgroups == [
        CGroup("memory"),
        CGroup("cpu", "grp", "shares", ""),
        CGroup("cpuset", None, "cpus", "0"),
        CGroup("blkio", "grp", "weight", "20"),
    ]


def test_errors_carry_the_path():
    with pytest.raises(ParseError) as ei:
        parse("bogus\n")
    assert str(ei.value) == "/etc/init/job.conf:1: Unknown stanza"


SIGNAL_ERROR = "Error while loading configuration file: Illegal signal status, expected integer"


@pytest.mark.parametrize("text, message, line", [
    # missing / surplus arguments
    ("description\n", "Expected token", 1),
    ("description a b\n", "Unexpected token", 1),
    ("author\n", "Expected token", 1),
    ("version 1 2\n", "Unexpected token", 1),
    ("usage\n", "Expected token", 1),
    ("instance $N\ninstance\n", "Expected token", 2),
    ("env\n", "Expected token", 1),
    ("env A=1 B=2\n", "Unexpected token", 1),
    ("export\n", "Expected token", 1),
    ("emits\n", "Expected token", 1),
    ("emits # nothing\n", "Expected token", 1),
    ("chroot\n", "Expected token", 1),
    ("chdir a b\n", "Unexpected token", 1),
    ("setuid\n", "Expected token", 1),
    ("setgid a b\n", "Unexpected token", 1),
    ("task extra\n", "Unexpected token", 1),
    ("respawn foo\n", "Unknown stanza", 1),
    ("respawn limit\n", "Expected token", 1),
    ("respawn limit 5\n", "Expected token", 1),
    ("respawn limit 5 6 7\n", "Unexpected token", 1),
    ("respawn limit unlimited 6\n", "Unexpected token", 1),
    # sub-keywords
    ("start\n", "Expected token", 1),
    ("start foo\n", "Unknown stanza", 1),
    ("stop in x\n", "Unknown stanza", 1),
    ("pre-start\n", "Expected token", 1),
    ("post-stop foo\n", "Unknown stanza", 1),
    ("pre-stop exec\n", "Expected token", 1),
    ("kill\n", "Expected token", 1),
    ("kill foo 1\n", "Unknown stanza", 1),
    ("kill timeout\n", "Expected token", 1),
    ("normal\n", "Expected token", 1),
    ("normal foo 1\n", "Unknown stanza", 1),
    ("normal exit\n", "Expected token", 1),
    ("reload\n", "Expected token", 1),
    ("reload foo\n", "Unknown stanza", 1),
    ("apparmor\n", "Expected token", 1),
    ("apparmor foo x\n", "Unknown stanza", 1),
    ("apparmor load\n", "Expected token", 1),
    ("cgroup\n", "Expected token", 1),
    ("cgroup a b c d e\n", "Unexpected token", 1),
    # enumerations
    ("expect sometimes\n", "Unknown stanza", 1),
    ("expect\n", "Expected token", 1),
    ("console sometimes\n", "Unknown stanza", 1),
    ("limit bogus 1 2\n", "Unknown stanza", 1),
    ("limit nofile\n", "Expected token", 1),
    ("limit nofile 10000\n", "Expected token", 1),
    ("limit nofile 1 2 3\n", "Unexpected token", 1),
    # values
    ("respawn limit x\n", "Illegal limit, expected 'unlimited' or integer", 1),
    ("respawn limit -1 5\n", "Illegal limit, expected 'unlimited' or integer", 1),
    ("respawn limit 5 x\n", "Illegal interval, expected number of seconds", 1),
    ("respawn limit 5 -1\n", "Illegal interval, expected number of seconds", 1),
    ("kill timeout -1\n", "Illegal interval, expected number of seconds", 1),
    ("kill timeout never\n", "Illegal interval, expected number of seconds", 1),
    ("kill timeout 99999999999999999999\n", "Illegal interval, expected number of seconds", 1),
    ("normal exit FOO\n", "Illegal exit status, expected integer", 1),
    ("normal exit -1\n", "Illegal exit status, expected integer", 1),
    ("normal exit 2147483648\n", "Illegal exit status, expected integer", 1),
    ("normal exit 1 term\n", "Illegal exit status, expected integer", 1),
    ("umask 999\n", "Illegal file creation mask, expected octal integer", 1),
    ("umask 1000\n", "Illegal file creation mask, expected octal integer", 1),
    ("umask 0x1\n", "Illegal file creation mask, expected octal integer", 1),
    ("nice 30\n", "Illegal nice value, expected -20 to 19", 1),
    ("nice -21\n", "Illegal nice value, expected -20 to 19", 1),
    ("nice x\n", "Illegal nice value, expected -20 to 19", 1),
    ("oom score 2000\n", "Illegal oom score adjustment, expected -999 to 1000 or 'never'", 1),
    ("oom score -1001\n", "Illegal oom score adjustment, expected -999 to 1000 or 'never'", 1),
    ("oom score x\n", "Illegal oom score adjustment, expected -999 to 1000 or 'never'", 1),
    ("oom 16\n", "Illegal oom adjustment, expected -16 to 15 or 'never'", 1),
    ("oom -18\n", "Illegal oom adjustment, expected -16 to 15 or 'never'", 1),
    ("oom x\n", "Illegal oom adjustment, expected -16 to 15 or 'never'", 1),
    ("limit nofile x 1\n", "Illegal limit, expected 'unlimited' or integer", 1),
    ("limit nofile 1 x\n", "Illegal limit, expected 'unlimited' or integer", 1),
    ("limit nofile 1 18446744073709551616\n", "Illegal limit, expected 'unlimited' or integer", 1),
    # the odd one out: no line number
    ("kill signal BOGUS\n", SIGNAL_ERROR, None),
    ("kill signal term\n", SIGNAL_ERROR, None),
    ("reload signal 0x\n", SIGNAL_ERROR, None),
    ("kill signal 2147483648\n", SIGNAL_ERROR, None),
    ("kill signal -1\n", SIGNAL_ERROR, None),
])
def test_stanza_errors(text, message, line):
    with pytest.raises(ParseError) as ei:
        parse(text)
    assert (ei.value.message, ei.value.line) == (message, line)


@pytest.mark.parametrize("text, message, line", [
    # a bad value is reported where the value starts (after the whitespace
    # and continuations that precede it) ...
    ("kill timeout \\\n  x\n", "Illegal interval, expected number of seconds", 2),
    ("respawn limit 1 \\\n x\n", "Illegal interval, expected number of seconds", 2),
    ("normal exit 1 \\\n x\n", "Illegal exit status, expected integer", 2),
    ("limit nofile 1 \\\n x\n", "Illegal limit, expected 'unlimited' or integer", 2),
    ('nice "1\n2"\n', "Illegal nice value, expected -20 to 19", 1),
    # ... an unknown sub-keyword where its handler started ...
    ("kill \\\n foo 1\n", "Unknown stanza", 2),
    ("kill foo \\\n 1\n", "Unknown stanza", 1),
    ("start \\\n foo\n", "Unknown stanza", 2),
    # ... and a scanning error where scanning stopped.
    ("description a\\\n  b\n", "Unexpected token", 2),
    ('env "a\n\nb\n', "Unterminated quoted string", 4),
    ("task\n\n\nbogus\n", "Unknown stanza", 4),
])
def test_error_lines(text, message, line):
    with pytest.raises(ParseError) as ei:
        parse(text)
    assert (ei.value.message, ei.value.line) == (message, line)


def test_integer_parsing_is_c_strtol():
    assert parse("nice ' 5'\n").nice == 5               # leading C whitespace accepted
    assert parse("kill timeout 007\n").kill_timeout == 7
    assert parse("nice 4294967296\n").nice == 0         # (int) cast of a long
    with pytest.raises(ParseError):
        parse("nice '5 '\n")                           # trailing garbage rejected
    with pytest.raises(ParseError):
        parse("kill timeout 1_0\n")                    # no Python-isms


def test_state_stanza_declares_a_state_events_open_and_close():
    from upstart.jobfile.model import Match, StateDecl
    cls = parse_job("state online IFACE on net-device-up IFACE!=lo\n"
                    "state online until net-device-down IFACE=$IFACE\n", "net")
    assert cls.states == [StateDecl("online", ("IFACE",), Match("net-device-up", ("IFACE!=lo",)),
                                    Match("net-device-down", ("IFACE=$IFACE",)), 1)]


@pytest.mark.parametrize("text, line, message", [
    ("state x until a\n", 1, "state x until comes before state x on"),
    ("state running on a\n", 1, "Illegal state name: running"),
    ("exec true\nstate x on\n", 2, "Expected event"),
    ("state x foo\n", 1, "Expected on or until"),
    ("state x K=1 on a\n", 1, "Illegal state key: K=1"),
    ("state x on a\nstate x K until b\n", 2, "Illegal state key: K"),
])
def test_state_stanza_errors_name_their_line(text, line, message):
    with pytest.raises(ParseError) as err:
        parse_job(text, "j")
    assert (err.value.line, err.value.message) == (line, message)
