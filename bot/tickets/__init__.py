"""The ticket itself: its state machine and audit trail, who may act on it, retention."""
