"""The `cgroup` stanza (issue #9): init writes cgroupfs itself.

`model` is the pure part (names, the v1/v2 key mapping, the per-instance
plan), `fs` the file-system part (discovery from /proc/self/mountinfo and
the operations on one cgroup), `manager` the daemon-side owner of the job
cgroups (create before spawn, kill the whole job, remove at `waiting`,
report usage). See docs/design/cgroups.md.

The package must never make a job fail because cgroups are missing or not
writable: the stanza then is a no-op with one warning per job.
"""
