"""The emulated Slack user's parts: how requests reach the app (``transport``), who sends
them (``member``), one payload builder per surface, and modal state (``view_state``).
``bot.sandbox.emulator.slack_user.SlackUser`` puts them together."""
