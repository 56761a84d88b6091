"""Closing tickets: decisions, vendor verdicts, waiting on reporters, follow-ups."""
