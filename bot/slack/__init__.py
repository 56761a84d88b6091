"""Slack-facing surface: HTTP server, payload checks, manifest, cards, App Home."""
