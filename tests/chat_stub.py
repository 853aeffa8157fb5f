"""A local stand-in for an OpenAI-compatible chat-completions server (127.0.0.1, a free port).

Its behaviour is set per test through ``server.mode``: ``ok`` (names a class as JSON), ``prose`` (names a
class in free text), ``other`` (names no EuroSAT class), ``refuse`` (a refusal), ``slow`` (answers after
``delay`` s), ``error`` (HTTP 500), ``garbage`` (not JSON), ``auth`` (HTTP 401). ``server.requests`` keeps
the bodies received.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatStub(ThreadingHTTPServer):
    mode = "ok"
    delay = 3.0
    answer_class = "Forest"

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (the "slow" mode's timeouts) is expected: print nothing onto the stderr
        a later test may be capturing (it failed the CLI test that reads stderr); report anything else."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ChatStub

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        mode = self.server.mode
        if self.path != "/v1/chat/completions":
            return self._send(404, b'{"error": "not found"}')
        if mode == "slow":
            time.sleep(self.server.delay)
        if mode == "error":
            return self._send(500, b'{"error": "boom"}')
        if mode == "auth":
            return self._send(401, b'{"error": "bad key"}')
        if mode == "garbage":
            return self._send(200, b"<html>not json</html>", "text/html")
        message: dict = {"role": "assistant"}
        if mode == "refuse":
            message.update(content=None, refusal="I cannot help with that.")
        elif mode == "other":
            message["content"] = '{"class": "Desert", "reason": "Sand dunes."}'
        elif mode == "prose":
            message["content"] = f"This looks like {self.server.answer_class} to me: dense canopy."
        else:
            message["content"] = json.dumps(
                {"class": self.server.answer_class, "reason": "Dark green canopy."}
            )
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
        self._send(200, json.dumps(reply).encode())


def start() -> ChatStub:
    server = ChatStub()
    server.thread.start()
    return server
