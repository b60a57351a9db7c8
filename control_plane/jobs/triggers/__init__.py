"""Triggers: jobs started on a schedule, when other jobs' runs end, on demand, or on events."""
