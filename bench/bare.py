"""The baseline of ``bench.ack``: a Bolt app whose listeners only acknowledge.

It runs on escbot's own server stack — ``bot.slack.server.Server`` (waitress, same
thread count) in front of ``bot.slack.server.EscbotWSGI`` (routing, signature and
metrics as escbot does them) — and is configured like escbot's ``App`` (cached
authorization, escbot's listener pool size), so the difference between the two is
what escbot's middleware and listeners cost. Its listeners run on stock Bolt's
thread runner, which answers at its next 10 ms poll; escbot's answer at ``ack()``
(``bot/slack/internals.py``), and the ratios show that too.

    python -m bench.bare --port 3999 --threads 8   # SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.app import LISTENER_THREADS
from bot.core.metrics import Metrics
from bot.intake.modal import INTAKE_VIEW
from bot.settings import Settings
from bot.slack.server import EscbotWSGI, Server


def bare_app(signing_secret: str, token: str, api_url: str) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=token, bot_id="B0BARE"
        )

    app = App(
        signing_secret=signing_secret,
        client=WebClient(base_url=api_url, timeout=10),
        authorize=authorize,
        process_before_response=False,
        ignoring_self_events_enabled=True,
        url_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener"),
    )

    @app.command("/escalate")
    def command(ack: Ack) -> None:
        ack()

    @app.view(INTAKE_VIEW)
    def submitted(ack: Ack) -> None:
        ack()

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    secret = os.environ["SLACK_SIGNING_SECRET"]
    api_url = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
    app = bare_app(secret, os.environ.get("SLACK_BOT_TOKEN", "xoxb-bare"), api_url)
    # EscbotWSGI reads the signing secret and metrics from escbot's services; the bare
    # app has no database (nor desk, for /qa/decisions, off without a QA token), so only
    # /slack/events and /metrics are meaningful here.
    settings = Settings(bot_token="xoxb-bare", signing_secret=secret)
    services = SimpleNamespace(metrics=Metrics(), settings=settings, engine=None, desk=None)
    Server(EscbotWSGI(app, services), "127.0.0.1", args.port, args.threads).serve_forever()


if __name__ == "__main__":
    main()
