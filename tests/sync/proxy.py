"""A fault-injecting HTTP proxy on 127.0.0.1 for the sync tests: it sits between the sync client and a real
`vereda-server`, records every byte the client sends, and breaks chosen requests in chosen ways.

It understands just enough HTTP/1.1 to cut at request boundaries: a request is a head plus a Content-Length body;
each one goes to the upstream server on its own connection (so a server restart behind the proxy is invisible to
the client's URL). Faults are queued and each applies to the next request whose request line contains its `match`:

- `cut_request`: half the body reaches the server, then both connections are closed (dropped mid-batch);
- `lose_response`: the server processes the request, the client gets nothing (a lost acknowledgement);
- `status`: the proxy answers `arg` (e.g. 500) itself; the server never sees the request;
- `slow_response`: the server's answer is held `arg` seconds (longer than the client's timeout);
- `cut_response`: only the first `arg` bytes of the answer are sent, then the connection is closed;
- `hold_response`: the answer is held until `release()` (the test kills the client meanwhile);
- `endless`: a 200 whose body never ends (bounded by the proxy at `arg` bytes).

Every thread and socket is bounded and closed at `close()`; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass

_CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^transfer-encoding:\s*chunked\s*$", re.IGNORECASE | re.MULTILINE)
TIMEOUT = 30.0


@dataclass
class Fault:
    kind: str
    match: str = ""
    arg: float = 0.0


class Closed(Exception):
    pass


def _read_until(sock: socket.socket, buffer: bytearray, marker: bytes) -> bytes:
    while marker not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed
        buffer.extend(chunk)
    end = buffer.index(marker) + len(marker)
    head = bytes(buffer[:end])
    del buffer[:end]
    return head


def _read_exact(sock: socket.socket, buffer: bytearray, n: int) -> bytes:
    while len(buffer) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed
        buffer.extend(chunk)
    data = bytes(buffer[:n])
    del buffer[:n]
    return data


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.listener.settimeout(0.1)  # accept() wakes up to notice close()
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.faults: deque[Fault] = deque()
        self.captured = bytearray()  # everything clients sent
        self.request_lines: list[str] = []
        self.request_heads: list[bytes] = []
        self.connections = 0
        self.held = threading.Event()  # set when a hold_response fault is holding an answer
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------- control
    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self.faults)

    def release(self) -> None:
        self._release.set()

    def count(self, fragment: str) -> int:
        with self._lock:
            return sum(1 for line in self.request_lines if fragment in line)

    def close(self) -> None:
        self._closed = True
        self._release.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------------------- plumbing
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.add(client)
            threading.Thread(target=self._serve, args=(client,), name="fault-proxy-conn", daemon=True).start()

    def _take_fault(self, line: str) -> Fault | None:
        with self._lock:
            for fault in list(self.faults):
                if fault.match in line:
                    self.faults.remove(fault)
                    return fault
        return None

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(TIMEOUT)
        buffer = bytearray()
        try:
            while not self._closed:
                head = _read_until(client, buffer, b"\r\n\r\n")
                match = _CONTENT_LENGTH.search(head)
                body = _read_exact(client, buffer, int(match.group(1))) if match else b""
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with self._lock:
                    self.captured.extend(head + body)
                    self.request_lines.append(line)
                    self.request_heads.append(head)
                fault = self._take_fault(line)
                if not self._handle(client, head, body, line, fault):
                    return
        except (Closed, OSError):
            return
        finally:
            with self._lock:
                self._sockets.discard(client)
            with contextlib.suppress(OSError):
                client.close()

    def _handle(self, client: socket.socket, head: bytes, body: bytes, line: str, fault: Fault | None) -> bool:
        """Serve one request; False when the client connection must be closed."""
        kind = fault.kind if fault else "pass"  # a "pass" fault lets one matching request through untouched
        if kind == "status":
            status = int(fault.arg) if fault else 500
            payload = b'{"error": {"code": "injected", "message": "injected by the test proxy"}}'
            client.sendall(f"HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: "
                           f"{len(payload)}\r\nconnection: close\r\n\r\n".encode() + payload)
            return False
        if kind == "endless":
            client.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ntransfer-encoding: chunked\r\n\r\n")
            sent, limit, block = 0, int(fault.arg if fault else 1 << 24), b"\0" * 65536
            with contextlib.suppress(OSError):
                while sent < limit and not self._closed:
                    client.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
                    sent += len(block)
            return False
        if kind == "cut_request":
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=TIMEOUT)
            with contextlib.closing(upstream):
                upstream.sendall(head + body[: len(body) // 2])
                time.sleep(0.05)
            return False
        response = self._forward(head, body, line)
        if kind == "lose_response":
            return False
        if kind == "slow_response":
            time.sleep(fault.arg if fault else 1.0)
        if kind == "hold_response":
            self.held.set()
            self._release.wait(TIMEOUT)
        if kind == "cut_response":
            client.sendall(response[: int(fault.arg if fault else 0)])
            return False
        client.sendall(response)
        return b"connection: close" not in response.split(b"\r\n\r\n", 1)[0].lower()

    def _forward(self, head: bytes, body: bytes, line: str) -> bytes:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=TIMEOUT)
        with contextlib.closing(upstream):
            upstream.sendall(head + body)
            buffer = bytearray()
            response_head = _read_until(upstream, buffer, b"\r\n\r\n")
            status = int(response_head.split(b" ", 2)[1])
            if line.startswith("HEAD ") or status in (204, 304):
                return response_head
            match = _CONTENT_LENGTH.search(response_head)
            if match:
                return response_head + _read_exact(upstream, buffer, int(match.group(1)))
            if _CHUNKED.search(response_head):
                out = bytearray()
                while True:
                    size_line = _read_until(upstream, buffer, b"\r\n")
                    size = int(size_line.split(b";")[0], 16)
                    out += size_line + _read_exact(upstream, buffer, size + 2)
                    if size == 0:
                        return response_head + bytes(out)
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    return response_head + bytes(buffer)
                buffer.extend(chunk)
