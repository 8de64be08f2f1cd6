"""Hypothesis profiles for the property tests: deterministic and small by default.

``ci`` (the default) draws the same examples on every run (``derandomize``) and few of them, so the
suite stays fast and a failure reproduces; ``HYPOTHESIS_PROFILE=thorough`` draws many more, randomly,
for fuzzing by hand.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
