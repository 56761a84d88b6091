"""A local Slack for tests and ``escbot demo``: a fake Web API, a user sending signed requests."""

from bot.sandbox.emulator.fake_slack import Call, FakeFile, FakeSlack, Message, SlackError
from bot.sandbox.emulator.slack_user import HttpResponse, SendOptions, SlackUser, view_state

__all__ = [
    "Call",
    "FakeFile",
    "FakeSlack",
    "HttpResponse",
    "Message",
    "SendOptions",
    "SlackError",
    "SlackUser",
    "view_state",
]
