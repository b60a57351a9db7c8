"""Run notifications: run events (a run DELAYED past its notify_delay_after, or ending FAILED,
TIMEOUT or ERROR), the notifier that records them, and their delivery to webhooks."""
