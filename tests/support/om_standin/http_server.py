"""The stand-in's HTTP plumbing: a threading server on loopback (optionally TLS) whose handler reads each
request whole, hands it to the stand-in, and writes the answer, late or cut off when a fault says so."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.om_standin.standin import OpenMetadataStandIn


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    reset: bool = False  # send half the body, then reset the connection

    @classmethod
    def json(cls, status: int, payload: Any) -> "Response":
        return cls(status, "application/json", json.dumps(payload).encode())

    @classmethod
    def error(cls, status: int, message: str) -> "Response":
        return cls.json(status, {"code": status, "message": message})


class _Handler(BaseHTTPRequestHandler):
    """Reads one request fully (so keep-alive stays in sync) and hands it to the stand-in."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real server behind requests' pool
    timeout = 30  # idle keep-alive connections end eventually
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: "StandInServer"

    def setup(self) -> None:
        # The TLS handshake runs here, in the per-connection thread, so that a slow or
        # non-TLS client cannot block the accept loop.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.standin._dispatch(self.command, self.path, headers, body)
        if response.delay:
            time.sleep(response.delay)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status in (204, 304) or response.status < 200:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.reset:
            self._reset(response.body[:len(response.body) // 2])
            return
        self.wfile.write(response.body)

    def _reset(self, partial: bytes) -> None:
        """Send `partial`, then close with SO_LINGER 0, so the kernel sends a TCP RST instead of a FIN:
        the client sees the connection reset in the middle of the answer."""
        self.wfile.write(partial)
        self.close_connection = True
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()  # really closed (and reset) when finish() closes rfile, its last user

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request stderr logging; tests inspect ``requests`` instead."""


class StandInServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its stand-in, wraps TLS, and can drop open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, standin: "OpenMetadataStandIn", ssl_context: ssl.SSLContext | None):
        self.standin = standin
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut keep-alive connections so a stopped stand-in really looks unreachable."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Client disconnects and failed TLS handshakes are expected in tests; stay quiet."""
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)
