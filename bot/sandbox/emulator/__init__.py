"""A local Slack for tests and ``escbot demo``: a fake Web API, a user sending signed requests."""

from bot.sandbox.emulator.fake_slack import (
    Call,
    FakeFile,
    FakeSlack,
    GestureRefused,
    Message,
    SlackError,
)
from bot.sandbox.emulator.lenient import Lenient
from bot.sandbox.emulator.slack_user import HttpResponse, SendOptions, SlackUser, view_state

__all__ = [
    "Call",
    "FakeFile",
    "FakeSlack",
    "GestureRefused",
    "HttpResponse",
    "Lenient",
    "Message",
    "SendOptions",
    "SlackError",
    "SlackUser",
    "view_state",
]
