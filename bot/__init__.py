"""escbot: the escalation desk of a Trust & Safety pod, on Slack."""
