"""States (issue #7): where to find them.

A state is a named condition that is true or false over time (see
docs/design/states.md). Its vocabulary and pure evaluation live in the core,
`upstart.core.states`, and the engine's `while` rules in
`upstart.core.conditions`, because the core must decide on them without I/O.
This package is kept for state *sources* outside PID 1's core (bridges that
open and close named states through the D-Bus `SetState`/`ClearState`
methods); it holds no logic of its own and must never reach into the engine.
"""
