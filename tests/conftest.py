"""Settings for the whole suite.

Hypothesis: no deadline and no too-slow health check. Whether an example runs
in 200 ms says how loaded the machine is, not whether the code is right (the
house rule: no timing in pass/fail tests); a test that wants a bound on its
work says so itself.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("upstart", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("upstart")
