"""Slack's rules the fake enforces, as functions over the workspace (docs/architecture.md,
"The emulator's rules"): who may call what (``access``), what a message or view may hold
(``blockkit``), how fast (``rate``). The API areas call them; nothing here answers HTTP."""
