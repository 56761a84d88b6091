"""The offline Slack emulator and the demo; only the CLI and tests import it."""
