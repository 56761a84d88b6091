"""Web API ``files.*`` and the URLs around it: files_upload_v2's three steps, and downloads.

Why the three steps over real HTTP: slack_sdk's ``files_upload_v2`` asks for an upload URL,
POSTs the bytes there (no token), then completes the upload into a channel, where sharing
needs membership and posts one message with the file; a mistake at any step shows here.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints, Route
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.http_server import Reply
from bot.sandbox.emulator.model import FakeFile
from bot.sandbox.emulator.request_parsing import HttpRequest
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.rules.blockkit import check_content
from bot.sandbox.emulator.workspace import Workspace


def upload_v1(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    raise SlackError("method_deprecated")  # Slack retired v1 uploads; use files_upload_v2


def get_upload_url(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("filename") or not str(args.get("length", "")).isdigit():
        raise SlackError("invalid_arguments")
    fid = ws.file_id(str(args["filename"]))
    ws.files[fid] = FakeFile(
        id=fid,
        filename=args["filename"],
        length=int(args["length"]),
        alt_txt=args.get("alt_txt"),
    )
    return {"upload_url": f"{ws.base}/upload/{fid}", "file_id": fid}


def upload(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """The bytes POSTed to an upload URL."""
    f = ws.files.get(args["file_id"])
    if f is None:
        raise SlackError("file_not_found", status=404)
    f.content = args["content"]
    return {}


def complete_upload(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    items = args.get("files")
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    channel = args.get("channel_id") or (args.get("channels") or "").split(",")[0] or None
    if channel:  # sharing into a channel needs membership, like reading it
        channel = access.readable(ws, channel)[0]
        if channel in ws.channels and ws.channels[channel].is_archived:
            raise SlackError("is_archived")
    # The share message may carry blocks (a JSON string); Slack ignores them when an
    # initial_comment is given, and refuses invalid ones as chat.postMessage does.
    blocks = None if args.get("initial_comment") else args.get("blocks")
    if blocks is not None:
        check_content({"blocks": blocks}, need_text=False)
    done: list[dict[str, Any]] = []
    for item in items:
        f = ws.files.get(item.get("id", ""))
        if f is None or f.content is None:
            raise SlackError("file_not_found")
        f.title = item.get("title") or f.filename
        f.channel, f.thread_ts, f.completed = channel, args.get("thread_ts"), True
        f.initial_comment = args.get("initial_comment")
        done.append(_file_obj(ws, f))
    if channel:
        post = {
            "text": args.get("initial_comment") or "",
            "thread_ts": args.get("thread_ts"),
            "blocks": blocks,
        }
        ws.bot_posts(channel, post, files=done)
    return {"files": done}


def download(ws: Workspace, tail: str, request: HttpRequest) -> Reply | None:
    """``url_private``: the uploaded bytes (no token needed in the fake)."""
    with ws.lock:
        f = ws.files.get(tail.split("/")[0])
    if f is not None and f.content is not None:
        return 200, f.content, {"Content-Type": "application/octet-stream"}
    return None


def _file_obj(ws: Workspace, f: FakeFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.filename,
        "title": f.title,
        "size": len(f.content or b""),
        "alt_txt": f.alt_txt,
        "user": ws.bot_user_id,
        "url_private": f"{ws.base}/files/{f.id}/{f.filename}",
        "permalink": f"https://fake.slack.com/files/{ws.bot_user_id}/{f.id}/{f.filename}",
        "channels": [f.channel] if f.channel else [],
    }


def _upload_args(tail: str, request: HttpRequest) -> dict[str, Any]:
    return {"file_id": tail, "content": request.body}


def register(endpoints: Endpoints) -> None:
    endpoints.method("files.upload", upload_v1)
    endpoints.method("files.getUploadURLExternal", get_upload_url)
    endpoints.method("files.completeUploadExternal", complete_upload)
    endpoints.route("/upload/", Route("file_upload", _upload_args, upload))
    endpoints.page("/files/", download)
