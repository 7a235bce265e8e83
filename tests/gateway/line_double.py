"""A local double of the LINE Messaging API, faithful to the reference for the endpoints the gateway uses.

Endpoints (https://developers.line.biz/en/reference/messaging-api/):
- POST /v2/bot/message/reply       {replyToken, messages[1..5], notificationDisabled?} -> 200 {sentMessages}
- POST /v2/bot/message/push        {to, messages[1..5], ...}, optional X-Line-Retry-Key -> 200 {sentMessages}
- POST /v2/bot/chat/loading/start  {chatId (a user id), loadingSeconds? 5..60, multiple of 5} -> 202 {}

Like the real platform it checks the channel access token (401), validates the body and answers 400 with
{"message": "The request body has N error(s)", "details": [{"message", "property"}]}, refuses an unknown,
used or expired reply token with 400 {"message": "Invalid reply token"}, refuses X-Line-Retry-Key on the
reply API, answers 409 (with x-line-accepted-request-id) to a retry key it already accepted, and records
every request for assertions. `fail_next` injects platform errors (e.g. a 500) to exercise retries.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
)
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "clipboard",
)
RECIPIENT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
RETRY_KEY = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
URI_SCHEMES = ("http://", "https://", "line://", "tel:")
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500
MAX_QUICK_REPLY_ITEMS = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_POSTBACK_DATA = 300
MAX_DISPLAY_TEXT = 300
MAX_URI = 1000
MAX_SENDER_NAME = 20
REPLY_TOKEN_TTL = 60.0


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    response: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


@dataclass
class _Failure:
    path: str
    status: int
    body: dict[str, Any]
    remaining: int


@dataclass
class _Errors:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, prop: str, message: str) -> None:
        self.items.append({"message": message, "property": prop})


def _check_action(action: Any, prop: str, errors: _Errors, *, label_required: bool) -> None:
    if not isinstance(action, dict):
        errors.add(prop, "Must be an object")
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        errors.add(f"{prop}.type", f"Must be one of the following values: {list(ACTION_TYPES)}")
        return
    label = action.get("label")
    if label is None:
        if label_required:
            errors.add(f"{prop}.label", "Must be specified")
    elif not isinstance(label, str) or not label:
        errors.add(f"{prop}.label", "May not be empty")
    elif utf16_len(label) > MAX_QUICK_REPLY_LABEL:
        errors.add(f"{prop}.label", f"Length must be between 0 and {MAX_QUICK_REPLY_LABEL}")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or not data:
            errors.add(f"{prop}.data", "Must be specified")
        elif utf16_len(data) > MAX_POSTBACK_DATA:
            errors.add(f"{prop}.data", f"Length must be between 1 and {MAX_POSTBACK_DATA}")
        display = action.get("displayText")
        if display is not None and (
            not isinstance(display, str) or not 1 <= utf16_len(display) <= MAX_DISPLAY_TEXT
        ):
            errors.add(f"{prop}.displayText", f"Length must be between 1 and {MAX_DISPLAY_TEXT}")
    elif kind == "message":
        text = action.get("text")
        if not isinstance(text, str) or not text:
            errors.add(f"{prop}.text", "Must be specified")
        elif utf16_len(text) > MAX_DISPLAY_TEXT:
            errors.add(f"{prop}.text", f"Length must be between 1 and {MAX_DISPLAY_TEXT}")
    elif kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri.startswith(URI_SCHEMES):
            errors.add(f"{prop}.uri", "Invalid URI scheme")
        elif len(uri) > MAX_URI:
            errors.add(f"{prop}.uri", f"Length must be between 1 and {MAX_URI}")


def _check_flex_component(node: Any, prop: str, errors: _Errors) -> None:
    if not isinstance(node, dict):
        errors.add(prop, "Must be an object")
        return
    kind = node.get("type")
    if kind == "box":
        if node.get("layout") not in ("horizontal", "vertical", "baseline"):
            errors.add(
                f"{prop}.layout", "Must be one of the following values: [horizontal, vertical, baseline]"
            )
        contents = node.get("contents")
        if not isinstance(contents, list):
            errors.add(f"{prop}.contents", "Must be specified")
            return
        for i, child in enumerate(contents):
            _check_flex_component(child, f"{prop}.contents[{i}]", errors)
    elif kind == "text":
        text = node.get("text")
        if not (isinstance(text, str) and text) and not node.get("contents"):
            errors.add(f"{prop}.text", "May not be empty")
    elif kind == "button":
        _check_action(node.get("action"), f"{prop}.action", errors, label_required=True)
    elif kind in ("image", "video"):
        url = node.get("url")
        if not isinstance(url, str) or not url.startswith("https://"):
            errors.add(f"{prop}.url", "Must be an HTTPS URL")
    elif kind not in ("separator", "filler", "icon", "span"):
        errors.add(f"{prop}.type", "Unknown component type")


def _check_flex_container(container: Any, prop: str, errors: _Errors) -> None:
    if not isinstance(container, dict):
        errors.add(prop, "Must be specified")
        return
    kind = container.get("type")
    if kind == "carousel":
        bubbles = container.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= 12:
            errors.add(f"{prop}.contents", "Size must be between 1 and 12")
            return
        for i, bubble in enumerate(bubbles):
            _check_flex_container(bubble, f"{prop}.contents[{i}]", errors)
    elif kind == "bubble":
        blocks = [b for b in ("header", "hero", "body", "footer") if b in container]
        if not blocks:
            errors.add(prop, "A bubble needs at least one block")
        for block in blocks:
            _check_flex_component(container[block], f"{prop}.{block}", errors)
    else:
        errors.add(f"{prop}.type", "Must be one of the following values: [bubble, carousel]")


def _check_message(message: Any, prop: str, errors: _Errors) -> None:
    if not isinstance(message, dict):
        errors.add(prop, "Must be an object")
        return
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        errors.add(f"{prop}.type", f"Must be one of the following values: {list(MESSAGE_TYPES)}")
        return
    if kind in ("text", "textV2"):
        text = message.get("text")
        if not isinstance(text, str) or not text:
            errors.add(f"{prop}.text", "May not be empty")
        elif utf16_len(text) > MAX_TEXT:
            errors.add(f"{prop}.text", f"Length must be between 0 and {MAX_TEXT}")
    elif kind == "flex":
        alt = message.get("altText")
        if not isinstance(alt, str) or not alt:
            errors.add(f"{prop}.altText", "May not be empty")
        elif utf16_len(alt) > MAX_ALT_TEXT:
            errors.add(f"{prop}.altText", f"Length must be between 0 and {MAX_ALT_TEXT}")
        _check_flex_container(message.get("contents"), f"{prop}.contents", errors)
    elif kind == "sticker":
        for key in ("packageId", "stickerId"):
            if not isinstance(message.get(key), str):
                errors.add(f"{prop}.{key}", "Must be specified")
    sender = message.get("sender")
    if sender is not None:
        # Messaging API: the name shown instead of the account's, at most 20 characters, and
        # not one that could pass for LINE itself.
        name = sender.get("name") if isinstance(sender, dict) else None
        if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_SENDER_NAME):
            errors.add(f"{prop}.sender.name", f"Length must be between 1 and {MAX_SENDER_NAME}")
        elif isinstance(name, str) and "line" in name.lower():
            errors.add(f"{prop}.sender.name", "Must not contain the word LINE")
    quick = message.get("quickReply")
    if quick is not None:
        items = quick.get("items") if isinstance(quick, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLY_ITEMS:
            errors.add(f"{prop}.quickReply.items", f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}")
            return
        for i, item in enumerate(items):
            item_prop = f"{prop}.quickReply.items[{i}]"
            if not isinstance(item, dict) or item.get("type") != "action":
                errors.add(f"{item_prop}.type", "Must be one of the following values: [action]")
                continue
            _check_action(item.get("action"), f"{item_prop}.action", errors, label_required=True)


def _check_messages(body: dict[str, Any], errors: _Errors) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        errors.add("messages", "Size must be between 1 and 5")
        return
    if len(messages) > MAX_MESSAGES:
        errors.add("messages", "Size must be between 1 and 5")
    for i, message in enumerate(messages):
        _check_message(message, f"messages[{i}]", errors)


class LineApiDouble:
    """Start with `with LineApiDouble(token) as api:`; `api.base_url` is what LINE_API_BASE_URL takes."""

    def __init__(self, access_token: str, reply_token_ttl: float = REPLY_TOKEN_TTL) -> None:
        self.access_token = access_token
        self.reply_token_ttl = reply_token_ttl
        self._lock = threading.Condition()
        self._records: list[Recorded] = []
        self._reply_tokens: dict[str, float] = {}
        self._used_tokens: set[str] = set()
        self._accepted_retry_keys: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="line-double", daemon=True)

    # ---- lifecycle ----

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LineApiDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LineApiDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._failures.clear()

    # ---- test controls ----

    def issue_reply_token(self) -> str:
        """A reply token as the platform would put in a webhook event (32 hex characters)."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = time.monotonic()
        return token

    def expire_reply_token(self, token: str) -> None:
        with self._lock:
            self._reply_tokens[token] = time.monotonic() - self.reply_token_ttl - 1

    def fail_next(
        self, path: str, status: int = 500, body: dict[str, Any] | None = None, times: int = 1
    ) -> None:
        with self._lock:
            self._failures.append(_Failure(path, status, body or {"message": "Internal server error"}, times))

    # ---- assertions ----

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._records)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def delivered(self) -> list[Recorded]:
        """Reply and push requests the platform accepted, in order."""
        paths = ("/v2/bot/message/reply", "/v2/bot/message/push")
        return [r for r in self.requests if r.path in paths and r.status == 200]

    def wait_for(self, predicate: Callable[[list[Recorded]], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate(list(self._records))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"LINE double: condition not met in {timeout}s; got {self._records!r}"
                    )
                self._lock.wait(remaining)

    def wait_for_reply(self, reply_token: str, timeout: float = 30.0) -> Recorded:
        def find(records: list[Recorded]) -> Recorded | None:
            for r in records:
                if (
                    r.path == "/v2/bot/message/reply"
                    and r.status == 200
                    and r.body.get("replyToken") == reply_token
                ):
                    return r
            return None

        return self.wait_for(find, timeout)

    # ---- request handling ----

    def _record(self, record: Recorded) -> None:
        with self._lock:
            self._records.append(record)
            self._lock.notify_all()

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path == path and failure.remaining > 0:
                    failure.remaining -= 1
                    return failure
        return None

    def _handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {"message": AUTH_FAILED}, {}
        if method != "POST":
            return 405, {"message": "Method not allowed"}, {}
        handlers = {
            "/v2/bot/message/reply": self._reply,
            "/v2/bot/message/push": self._push,
            "/v2/bot/chat/loading/start": self._loading,
        }
        handler = handlers.get(path)
        if handler is None:
            return 404, {"message": "Not found"}, {}
        if not headers.get("content-type", "").startswith("application/json"):
            return 415, {"message": "Unsupported Media Type"}, {}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return 400, {"message": "The request body could not be parsed as JSON"}, {}
        if not isinstance(body, dict):
            return (
                400,
                {"message": "The request body has 1 error(s)", "details": [{"message": "Must be an object"}]},
                {},
            )
        failure = self._take_failure(path)
        if failure is not None:
            return failure.status, failure.body, {}
        return handler(body, headers)

    @staticmethod
    def _invalid(errors: _Errors) -> tuple[int, Any, dict[str, str]]:
        return (
            400,
            {"message": f"The request body has {len(errors.items)} error(s)", "details": errors.items},
            {},
        )

    @staticmethod
    def _sent(count: int) -> dict[str, Any]:
        return {
            "sentMessages": [
                {"id": str(secrets.randbelow(10**18)), "quoteToken": secrets.token_urlsafe(24)}
                for _ in range(count)
            ]
        }

    def _reply(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if "x-line-retry-key" in headers:
            return 400, {"message": "X-Line-Retry-Key is not supported for this API"}, {}
        errors = _Errors()
        token = body.get("replyToken")
        if not isinstance(token, str) or not token:
            errors.add("replyToken", "Must be specified")
        _check_messages(body, errors)
        if errors.items:
            return self._invalid(errors)
        with self._lock:
            issued = self._reply_tokens.get(token)
            fresh = issued is not None and time.monotonic() - issued <= self.reply_token_ttl
            if not fresh or token in self._used_tokens:
                return 400, {"message": "Invalid reply token"}, {}
            self._used_tokens.add(token)
        return 200, self._sent(len(body["messages"])), {}

    def _push(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        retry_key = headers.get("x-line-retry-key")
        if retry_key is not None and not RETRY_KEY.match(retry_key):
            return 400, {"message": "The value of the X-Line-Retry-Key header is invalid"}, {}
        errors = _Errors()
        to = body.get("to")
        if not isinstance(to, str) or not RECIPIENT_ID.match(to):
            errors.add("to", "Invalid recipient ID")
        _check_messages(body, errors)
        if errors.items:
            return self._invalid(errors)
        request_id = str(uuid.uuid4())
        if retry_key is not None:
            with self._lock:
                accepted = self._accepted_retry_keys.get(retry_key)
                if accepted is not None:
                    return (
                        409,
                        {"message": "The retry key is already accepted"},
                        {"x-line-accepted-request-id": accepted},
                    )
                self._accepted_retry_keys[retry_key] = request_id
        return 200, self._sent(len(body["messages"])), {"x-line-request-id": request_id}

    def _loading(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        errors = _Errors()
        chat_id = body.get("chatId")
        if not isinstance(chat_id, str) or not USER_ID.match(chat_id):
            errors.add("chatId", "Must be a user ID (group chats and multi-person chats are not supported)")
        seconds = body.get("loadingSeconds", 20)
        if not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
            errors.add("loadingSeconds", "Must be a multiple of 5 between 5 and 60")
        if errors.items:
            return self._invalid(errors)
        return 202, {}, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path.split("?", 1)[0]
                status, response, extra = double._handle(self.command, path, headers, raw)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                double._record(Recorded(self.command, path, headers, body, status, response))
                data = json.dumps(response, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-line-request-id", extra.pop("x-line-request-id", str(uuid.uuid4())))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_POST = _serve
            do_GET = _serve

        return Handler
