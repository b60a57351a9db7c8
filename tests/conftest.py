"""Settings for the whole suite."""

from hypothesis import settings

# Property tests check behaviour, not speed (speed is benchmarks/'s business): no per-example
# deadline, which a loaded two-core CI machine exceeds at random.
settings.register_profile("sluice", deadline=None)
settings.load_profile("sluice")
