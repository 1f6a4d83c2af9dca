"""initctl's help texts: `help`, `--help`, `COMMAND --help`, `--version`.

Laid out the way libnih lays them out (option column at 2, descriptions at
column 30, wrapped at 80 with a 2-space hanging indent). Imported only when
help is asked for, so the common path stays fast; `--version` reads only
`VERSION_TEXT` (textwrap, which imports `re`, is imported by the wrapping
helpers themselves). Pure string building.
"""

# no `from __future__ import annotations`: `--version` imports this module (issue #23)

BUGS = "Report bugs to <upstart-devel@lists.ubuntu.com>\n"

GROUPS = (
    ("Job", ("start", "stop", "restart", "reload", "status", "list")),
    ("Event", ("emit",)),
    ("Environment", ("get-env", "list-env", "reset-env", "set-env", "unset-env")),
    ("Other", ("reload-configuration", "version", "log-priority", "show-config",
               "check-config", "usage", "notify-cgroup-manager-address",
               "notify-dbus-address", "notify-disk-writeable", "list-sessions", "help")),
)

# this project's commands (issue #26 item 6): every command of COMMANDS below that
# 1.13's GROUPS do not name, listed by `help` in a section of their own after 1.13's
# sections (which stay byte-identical), in the order of COMMANDS
OWN_GROUP = "Roadmap"

# command → (usage of its arguments, one-line synopsis, long description)
COMMANDS = {
    "start": ("JOB [KEY=VALUE]...", "Start job.",
              "JOB is the name of the job that is to be started, this may be followed by "
              "zero or more environment variables to be defined in the new job.\n\n"
              "The environment may also serve to distinguish between job instances, and "
              "thus decide whether a new instance will be started or an error returned if "
              "an existing instance is already running."),
    "stop": ("JOB [KEY=VALUE]...", "Stop job.",
             "JOB is the name of the job that is to be stopped, this may be followed by "
             "zero or more environment variables to be passed to the job's pre-stop and "
             "post-stop processes.\n\n"
             "The environment also serves to distinguish between job instances, and thus "
             "decide which of multiple instances will be stopped."),
    "restart": ("JOB [KEY=VALUE]...", "Restart job.",
                "JOB is the name of the job that is to be restarted, this may be followed "
                "by zero or more environment variables to be defined in the job after "
                "restarting.\n\n"
                "The environment also serves to distinguish between job instances, and "
                "thus decide which of multiple instances will be restarted."),
    "reload": ("JOB [KEY=VALUE]...", "Send HUP signal to job.",
               "JOB is the name of the job that is to be sent the signal, this may be "
               "followed by zero or more environment variables to distinguish between job "
               "instances."),
    "status": ("JOB [KEY=VALUE]...", "Query status of job.",
               "JOB is the name of the job that is to be queried, this may be followed by "
               "zero or more environment variables to distguish between job instances."),
    "list": ("", "List known jobs.",
             "The known jobs and their current status will be output."),
    "emit": ("EVENT [KEY=VALUE]...", "Emit an event.",
             "EVENT is the name of an event the init daemon should emit, this may be "
             "followed by zero or more environment variables to be included in the event."),
    "get-env": ("VARIABLE", "Retrieve value of a job environment variable.",
                "VARIABLE is the name of the variable whose value is to be shown."),
    "list-env": ("", "Show all job environment variables.",
                 "Lists all environment variables of the job environment table, sorted."),
    "reset-env": ("", "Revert all job environment variable changes.",
                  "Discards all changes made to the job environment table."),
    "set-env": ("VARIABLE[=VALUE]...", "Set one or more job environment variables.",
                "Adds or replaces variables in the job environment table; a VARIABLE "
                "without '=' is set to the empty string."),
    "unset-env": ("VARIABLE...", "Remove one or more job environment variables.",
                  "Removes variables from the job environment table."),
    "reload-configuration": ("", "Reload the configuration of the init daemon.", ""),
    "version": ("", "Request the version of the init daemon.", ""),
    "log-priority": ("[PRIORITY]",
                     "Change the minimum priority of log messages from the init daemon.",
                     "PRIORITY may be one of:\n"
                     "  `debug' (messages useful for debugging upstart are logged, "
                     "equivalent to --debug on kernel command-line);\n"
                     "  `info' (messages about job goal and state changes, as well as "
                     "event emissions are logged, equivalent to --verbose on the kernel "
                     "command-line);\n"
                     "  `message' (informational and debugging messages are suppressed, "
                     "the default);\n"
                     "  `warn' (ordinary messages are suppressed whilst still logging "
                     "warnings and errors);\n"
                     "  `error' (only errors are logged, equivalent to --quiet on the "
                     "kernel command-line) or\n"
                     "  `fatal' (only fatal errors are logged).\n\n"
                     "Without arguments, this outputs the current log priority."),
    "show-config": ("[CONF]",
                    "Show emits, start on and stop on details for job configurations.",
                    "If CONF specified, show configuration details for single job "
                    "configuration, else show details for all jobs configurations."),
    "check-config": ("[CONF]", "Check for unreachable jobs/event conditions.",
                     "List all jobs and events which cannot be satisfied by currently "
                     "available job configuration files"),
    "usage": ("JOB", "Show job usage message if available.",
              "JOB is the name of the job which usage is to be shown."),
    "notify-cgroup-manager-address": (
        "ADDRESS", "Inform Upstart of D-Bus address cgroup manager is available on.",
        "ADDRESS is the D-Bus address of the cgroup manager."),
    "notify-dbus-address": ("ADDRESS", "Inform Upstart of D-Bus address to connect to.",
                            "ADDRESS is the D-Bus address of the bus to connect to."),
    "notify-disk-writeable": ("", "Inform Upstart that disk is now writeable.",
                              "Run to inform Upstart that it can flush any job output "
                              "it has buffered to disk."),
    "list-sessions": ("", "List all sessions.",
                      "Displays list of running Session Inits and their addresses."),
    "help": ("", "display list of commands", ""),
    # roadmap (issue #7): named states; `help` lists these and the ones below under
    # OWN_GROUP
    "set-state": ("NAME [KEY=VALUE]...", "Set a named state.",
                  "NAME is the state to set, optionally with variables."),
    "clear-state": ("NAME", "Clear a named state.", "NAME is the state to clear."),
    "list-states": ("", "List named states.", "Shows every state that is set."),
    # roadmap (time bridge): time events
    "list-timers": ("", "List the time events jobs wait for.",
                    "Shows each time schedule that a job names in its start on or stop "
                    "on condition: when it is next due, when it last fired, how many "
                    "times it fired, and which jobs use it."),
    # roadmap (issue #12): observability
    "why": ("JOB [KEY=VALUE]...", "Explain why a job has its present goal.",
            "Shows the chain of events, jobs and commands that brought JOB to its "
            "goal, back to init's startup or a person's initctl call."),
    "timeline": ("", "Show each job's spans since boot.",
                 "Prints the starting, running and stopping spans of every job, marking "
                 "the critical chain; --svg FILE draws them as an SVG chart."),
    # roadmap 07 §7 (RM-15): the debug stanza
    "resume": ("JOB [KEY=VALUE]...", "Resume a job paused for debug.",
               "JOB is the name of the job whose processes the debug stanza paused "
               "before exec (or that are otherwise stopped); init continues them with "
               "SIGCONT. It may be followed by zero or more environment variables to "
               "distinguish between job instances."),
}

GLOBAL_OPTIONS = (
    ("", "session", "", "use D-Bus session bus to connect to init daemon (for testing)"),
    ("", "system", "", "use D-Bus system bus to connect to init daemon"),
    ("", "dest", "NAME", "destination well-known name on D-Bus bus"),
    ("", "user", "", "start in user mode (as used for user sessions)"),
    ("q", "quiet", "", "reduce output to errors only"),
    ("v", "verbose", "", "increase output to include informational messages"),
    ("", "global", "", "use the system init's global jobs (from a chroot or a session)"),
    ("", "help", "", "display this help and exit"),
    ("", "version", "", "output version information and exit"),
)

COMMAND_OPTIONS = {
    "start": (("n", "no-wait", "", "do not wait for job to start before exiting"),),
    "stop": (("n", "no-wait", "", "do not wait for job to stop before exiting"),),
    "restart": (("n", "no-wait", "", "do not wait for job to restart before exiting"),),
    "emit": (("n", "no-wait", "", "do not wait for event to finish before exiting"),),
    "show-config": (("e", "enumerate", "", "enumerate list of events and jobs causing job "
                     "created from job config to start/stop"),),
    "check-config": (("i", "ignore-events", "EVENT_LIST",
                      "ignore specified list of events (comma-separated)"),
                     ("w", "warn", "", "Generate warning for any unreachable events/jobs")),
    "get-env": (("g", "global", "", "use global job environment table"),),
    "list-env": (("g", "global", "", "use global job environment table"),),
    "reset-env": (("g", "global", "", "use global job environment table"),),
    "set-env": (("g", "global", "", "use global job environment table"),
                ("r", "retain", "", "do not replace the value of an existing variable")),
    "unset-env": (("g", "global", "", "use global job environment table"),),
    "list": (("", "failed", "", "list only the jobs that failed, and why"),),
    "why": (("", "json", "", "print the causal chain as JSON"),),
    "timeline": (("", "svg", "FILE", "write an SVG chart to FILE (- for stdout)"),
                 ("", "json", "", "print the spans as JSON"),
                 ("f", "file", "FILE", "read the structured event log FILE instead of asking init")),
}


def _entry(left: str, text: str) -> str:
    """One `  name   description` entry, wrapped the libnih way."""
    import textwrap
    lines = textwrap.wrap(text, 80 - 30) or [""]
    out = []
    if len(left) > 28:
        out.append(left + "\n")
        out.append(" " * 30 + lines[0] + "\n")
    else:
        out.append(left.ljust(30) + lines[0] + "\n")
    for more in textwrap.wrap(" ".join(lines[1:]), 80 - 32):
        out.append(" " * 32 + more + "\n")
    return "".join(out)


def own_commands() -> tuple:
    """The commands beyond 1.13's, in the order of COMMANDS."""
    listed = {name for _group, names in GROUPS for name in names}
    return tuple(name for name in COMMANDS if name not in listed)


def commands_help(prog: str) -> str:
    out = []
    for group, names in GROUPS + ((OWN_GROUP, own_commands()),):
        out.append("%s commands:\n" % group)
        for name in names:
            out.append(_entry("  " + name, COMMANDS[name][1]))
        out.append("\n")
    out.append("For more information on a command, try `%s COMMAND --help'.\n" % prog)
    return "".join(out)


def _options(options) -> str:
    out = []
    for short, long, arg, text in options:
        left = ("  -%s, " % short) if short else "      "
        left += "--" + long + ("=" + arg if arg else "")
        out.append(_entry(left, text))
    return "".join(out)


def _paragraphs(text: str) -> str:
    import textwrap
    out = []
    for para in text.split("\n"):
        out.append("\n".join(textwrap.wrap(para, 79)) if para else "")
    return "\n".join(out) + "\n"


def program_help(prog: str) -> str:
    return ("Usage: %s [OPTION]... COMMAND [OPTION]... [ARG]...\n\n"
            "Options:\n%s\n"
            "For a list of commands, try `%s help'.\n\n%s"
            % (prog, _options(GLOBAL_OPTIONS), prog, BUGS))


def command_help(prog: str, command: str, shorthand: bool) -> str:
    usage, synopsis, description = COMMANDS[command]
    own = COMMAND_OPTIONS.get(command, ())
    mine = {o[1] for o in own}        # an env command's --global is its own (1.13)
    head = prog if shorthand else "%s %s" % (prog, command)
    out = ["Usage: %s [OPTION]...%s\n" % (head, " " + usage if usage else ""),
           synopsis + "\n\n", "Options:\n",
           _options(own + tuple(o for o in GLOBAL_OPTIONS if o[1] not in mine)), "\n"]
    if description:
        out.append(_paragraphs(description) + "\n")
    out.append(BUGS)
    return "".join(out)
