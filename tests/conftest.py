"""Hypothesis profiles. The suite is deterministic by default: property tests draw the same
examples on every run, so a commit's CI verdict does not depend on luck. ``pytest
--hypothesis-profile=explore`` draws fresh random examples to hunt for new failures (add any
it finds as an ``@example``)."""

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("deterministic")
