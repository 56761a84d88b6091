"""Every use escbot makes of a library's internals, in one place; tests/test_internals.py
fails naming the internal when a release of the library changes it (slack-bolt is capped
at the version tested, in pyproject.toml).

- Bolt: ``App._listener_runner``, replaced by a subclass of ``ThreadListenerRunner``
  overriding ``run`` (Bolt offers no argument for a runner of one's own), which reads
  ``Listener.run_ack_function``/``auto_acknowledgement``/``lazy_functions``/``ack_timeout``,
  ``BoltRequest.lazy_only`` and the ``ack`` key of the request's context.
- Bolt: its "``token`` will be unused" warning, dropped by its exact text (the logger
  ``slack_bolt.App`` keeps every other line).

The prompt runner answers Slack the moment a listener acknowledges. Bolt
(``process_before_response=False``) runs a listener on its pool and has the request
thread poll ``ack.response`` every 10 ms: every answer waits for the next poll (a
listener that acks after 11 ms is answered at 20 ms), and under load twenty polling
threads wake a hundred times a second each to take the GIL. Here the request thread
waits on an event that ``ack()`` sets, so it is answered as soon as the listener
acknowledges, and work after ``ack()`` (``views.open``, the ephemeral) still runs on
the pool. Everything else — lazy listeners, ``process_before_response``, error
handling — is Bolt's own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.listener.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


class PromptAck(Ack):
    """An ``Ack`` that wakes the waiting request thread as soon as it holds an answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self._response: BoltResponse | None = None
        super().__init__()

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self.answered.set()


class PromptListenerRunner(ThreadListenerRunner):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running = 0  # listeners submitted and not finished
        self._idle = threading.Condition()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every listener started so far has finished, work after its ack
        included; False if ``timeout`` s passed first (the demo's steps wait for this)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def run(
        self,
        request: BoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: Listener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if self.process_before_response or request.lazy_only or listener.lazy_functions:
            return super().run(request, response, listener_name, listener, starting_time)
        starting_time = starting_time if starting_time is not None else time.time()
        ack = PromptAck()
        request.context["ack"] = ack  # what the listener's ``ack`` argument will be
        if listener.auto_acknowledgement:
            ack()  # events: acknowledged at once, as Bolt does
        result: list[BoltResponse | None] = [response]

        def run_listener() -> None:
            try:
                self.listener_start_handler.handle(request=request, response=response)
                listener.run_ack_function(request=request, response=response)
            except Exception as err:  # Bolt's handling, unchanged (see its ThreadListenerRunner)
                self._failed(err, request, result, ack, listener)
            finally:
                self.listener_completion_handler.handle(request=request, response=result[0])
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        with self._idle:
            self._running += 1
        self.listener_executor.submit(run_listener)
        ack.answered.wait(max(0.0, listener.ack_timeout - (time.time() - starting_time)))
        if ack.response is None:
            self.logger.warning(f"{listener_name} did not acknowledge within its ack timeout")
            return None
        return ack.response if result[0] is None else result[0]

    def _failed(
        self,
        err: Exception,
        request: BoltRequest,
        result: list[BoltResponse | None],
        ack: PromptAck,
        listener: Listener,
    ) -> None:
        if listener.auto_acknowledgement:
            self.listener_error_handler.handle(error=err, request=request, response=result[0])
            return
        failed = result[0] or BoltResponse(status=500)
        failed.status = 500
        answer = None if ack.response is not None else failed  # already acknowledged: keep it
        self.listener_error_handler.handle(error=err, request=request, response=answer)
        result[0] = answer
        if answer is not None:
            ack.response = answer


def install_runner(app: App) -> None:
    """Give ``app`` the prompt runner, configured as Bolt configured its own."""
    bolt: Any = app.listener_runner
    app._listener_runner = PromptListenerRunner(  # Bolt offers no argument for this
        logger=bolt.logger,
        process_before_response=bolt.process_before_response,
        listener_error_handler=bolt.listener_error_handler,
        listener_start_handler=bolt.listener_start_handler,
        listener_completion_handler=bolt.listener_completion_handler,
        listener_executor=bolt.listener_executor,
        lazy_listener_runner=bolt.lazy_listener_runner,
    )


class _UnusedTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when given a client and an
    ``authorize`` (escbot's, from a cached ``auth.test``), then warns on every start that
    the token will be unused. Drops exactly that message (Bolt's own text), nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_UNUSED_TOKEN = _UnusedTokenWarning()


def quiet_unused_token_warning() -> None:
    """Install the filter on Bolt's App logger (once: the same filter object)."""
    logging.getLogger("slack_bolt.App").addFilter(_UNUSED_TOKEN)
