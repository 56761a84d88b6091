"""The QA programme's Slack surface: grade buttons (App Home, the daily DM), the grade
modal, clarifications and the vendor lead's Acknowledge. Each listener acks, makes one
domain call (``bot.qa``) and answers; refusals come back through the handler boundary."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound
from bot.core.forms import FieldErrors
from bot.qa import clarify, grading
from bot.services import Services
from handlers.boundary import guarded


def _action(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{name}(:\d+)?$")


def _id(action: dict[str, Any]) -> int:
    value = action.get("value")
    if not isinstance(value, str) or not value.isdigit():
        raise NotFound("That button doesn't point at a QA item.")
    return int(value)


def register(app: App, services: Services) -> None:
    desk = services.desk

    @app.action(_action("qa_uphold"))
    @guarded
    def qa_uphold(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        grading.uphold(desk, _id(action), body["user"]["id"])

    @app.action(_action("qa_overturn"))
    @guarded
    def qa_overturn(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = grading.grade_modal(desk, _id(action), body["user"]["id"], correcting=False)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("qa_correct"))
    @guarded
    def qa_correct(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = grading.grade_modal(desk, _id(action), body["user"]["id"], correcting=True)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(grading.GRADE_MODAL)
    @guarded
    def qa_graded(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            grading.submit_grade(desk, view, body["user"]["id"])
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        ack()

    @app.action(_action("qa_clarify_item"))
    @guarded
    def qa_clarify_item(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = clarify.modal_for_item(desk, _id(action), body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("qa_clarify_write"))
    @guarded
    def qa_clarify_write(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = clarify.modal_for_proposal(desk, _id(action), body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(clarify.MODAL)
    @guarded
    def qa_clarification_written(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            clarify.submit(desk, view, body["user"]["id"])
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        ack()

    @app.action(_action("qa_ack"))
    @guarded
    def qa_ack(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        message = clarify.acknowledge(desk, _id(action), body["user"]["id"])
        if (body.get("container") or {}).get("type") == "message":
            respond(replace_original=True, **message)  # the button becomes "Acknowledged by"
