"""A Foxglove WebSocket client (``websockets``, sync API, reading in a thread): what the live
telemetry tests and ``sim2real bench live`` connect with.

It speaks the protocol the Foxglove app speaks (subprotocol ``foxglove.sdk.v1``, the SDK's name of
``foxglove.websocket.v1``; both offered): it reads ``serverInfo`` and ``advertise``, sends
``subscribe``, and decodes binary message-data frames (opcode 1, subscription id, timestamp,
payload); CDR payloads are decoded with the bag's type store, JSON payloads with ``json``.
``python -m sim2real.bench.live_client URL`` subscribes to every topic and counts messages until
the server goes away (the benchmark's client process).  Needs ``websockets`` (the dev extra).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from sim2real.errors import MissingExtraError
from sim2real.logs.bag_ros2 import ROS2_TYPESTORE

try:
    from websockets.sync.client import connect
except ModuleNotFoundError as exc:  # only the tests and the benchmark connect
    raise MissingExtraError("dev", exc.name or "websockets") from None

SUBPROTOCOLS = ["foxglove.sdk.v1", "foxglove.websocket.v1"]


@dataclass
class Received:
    topic: str
    log_ns: int
    """The message's timestamp in the frame [ns]."""
    arrived: float
    """time.monotonic() at arrival."""
    message: Any
    """Decoded: a rosbags message (cdr) or a dict (json)."""


class FoxgloveClient:
    """Connects, waits for the topics, subscribes, and collects messages in a background thread.

    Args:
        url: ``ws://host:port``.
        topics: Topics to subscribe to (each must be advertised within ``timeout``); None: every
            topic of the first advertisement.
        recv_buffer: SO_RCVBUF of the socket [bytes] (small: a client that cannot keep up).
        read: Start reading at once (False: a stalled client until :meth:`start`).
        decode: Decode the payloads (False: only count them).
    """

    def __init__(self, url: str, topics: list[str] | None, timeout: float = 10.0, recv_buffer: int | None = None,
                 read: bool = True, decode: bool = True) -> None:
        host, port = url.removeprefix("ws://").rsplit(":", 1)
        sock = None
        if recv_buffer is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
            sock.connect((host, int(port)))
        self._connection = connect(url, subprotocols=SUBPROTOCOLS, sock=sock, open_timeout=timeout, max_size=None)
        self.ws = self._connection.__enter__()
        self.subprotocol = self.ws.subprotocol
        self.server_info: dict[str, Any] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.decode = decode
        deadline = time.monotonic() + timeout
        while not self.channels if topics is None else not all(t in self.channels for t in topics):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"topics not advertised within {timeout} s: {sorted(set(topics) - set(self.channels))}")
            frame = self.ws.recv(timeout=remaining)
            if isinstance(frame, str):
                self._control(json.loads(frame))
        topics = list(self.channels) if topics is None else topics
        self.by_sub = {i: self.channels[t] for i, t in enumerate(topics)}
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": i, "channelId": c["id"]} for i, c in self.by_sub.items()]}))
        self.subscribed_at = time.monotonic()
        self.messages: list[Received] = []
        self.closed = threading.Event()
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if read:
            self.start()

    def start(self) -> None:
        """Start reading (a stalled client: never called until later)."""
        self._thread.start()

    def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        """Wait until ``condition()`` holds (re-checked at every message and when the connection ends)."""
        with self.changed:
            if not self.changed.wait_for(lambda: condition() or self.closed.is_set(), timeout) or not condition():
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def _control(self, msg: dict[str, Any]) -> None:
        if msg["op"] == "serverInfo":
            self.server_info = msg
        elif msg["op"] == "advertise":
            for c in msg["channels"]:
                self.channels[c["topic"]] = c

    def _decode(self, channel: dict[str, Any], payload: bytes) -> Any:
        if channel["encoding"] == "cdr":
            return ROS2_TYPESTORE.deserialize_cdr(payload, channel["schemaName"])
        return json.loads(payload)

    def _run(self) -> None:
        try:
            for frame in self.ws:
                if isinstance(frame, str):
                    self._control(json.loads(frame))
                    continue
                opcode, sub, ns = struct.unpack_from("<BIQ", frame)
                if opcode != 1:
                    continue
                channel = self.by_sub[sub]
                payload = self._decode(channel, frame[13:]) if self.decode else None
                received = Received(channel["topic"], ns, time.monotonic(), payload)
                with self.changed:
                    self.messages.append(received)
                    self.changed.notify_all()
        except Exception:  # the server went away: the run is over
            pass
        finally:
            with self.changed:
                self.closed.set()
                self.changed.notify_all()

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
        if self._thread.is_alive():
            self._thread.join(timeout=10)


if __name__ == "__main__":
    import sys

    client = FoxgloveClient(sys.argv[1], None, decode=False)
    client.closed.wait()
    print(len(client.messages), flush=True)
