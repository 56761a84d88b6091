"""Kindnesses Slack does not have, each one off unless a test names it.

Why opt-in and named: the fake keeps Slack's limits by default (trigger_ids expire, inputs
have lengths, response_urls wear out, view stacks and rate tiers end), so escbot is tested
against the Slack it will meet; a test that truly needs one limit lifted says which, and
reads as the exception it is: ``FakeSlack(lenient=Lenient(no_rate_tiers=True))``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lenient:
    """Each field turns one of Slack's limits off in the fake (all False: Slack's rules)."""

    #: trigger_ids work any time and again (Slack: once, within 3 s)
    no_trigger_expiry: bool = False
    #: response_urls work any time and any number of times (Slack: 5 uses in 30 minutes)
    no_response_url_limits: bool = False
    #: views.push past 3 views in a modal's stack
    no_view_stack_limit: bool = False
    #: chat.postEphemeral where the bot or the person is not in the channel
    no_ephemeral_membership: bool = False
    #: no per-method rate tiers and no per-channel posting limit
    no_rate_tiers: bool = False
