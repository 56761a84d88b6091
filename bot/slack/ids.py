"""Names Slack knows escbot's surfaces by, shared by the manifest and the listeners.

Slack routes a slash command or a shortcut by the name the manifest declares;
the listener must register the very same string. Both read it from here, so
neither module imports the other (``bot.slack.manifest`` used to import
``handlers.commands``, and the shortcut listener imported the manifest back).
"""

from __future__ import annotations

#: The slash command (manifest ``slash_commands``, ``handlers.commands``).
COMMAND = "/escalate"

#: callback_id of the "Escalate this message" shortcut (manifest ``shortcuts``,
#: ``handlers.shortcuts``).
MESSAGE_SHORTCUT = "escalate_message"
