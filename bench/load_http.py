"""A minimal HTTP/1.1 keep-alive client on asyncio's Protocol API, for `make load`'s generator.

Hand-written on purpose: the generator shares the machine's two cores with the servers it measures, so what it
spends per request is taken from them. Measured here against the bare Litestar endpoint on two granian workers
(200 connections, uvloop): aiohttp's ClientSession spends ~140 µs of CPU per request and tops out near 4,000
req/s; this client spends ~20 µs and drives the same endpoint past 8,000 req/s. It speaks only what the load
needs: one request at a time per connection, bodies framed by Content-Length or chunked encoding.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

import msgspec


class ConnectionLost(Exception):
    """The server closed the connection (or the client gave up on it) before the answer was complete."""


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return msgspec.json.decode(self.body)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Answer] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            answer = self._parse()
            if answer is not None:
                self.waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionLost(str(exc) if exc else "closed by the server"))

    def _parse(self) -> Answer | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            position = start
            while True:
                line_end = self.buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                chunk_start = line_end + 2
                if len(self.buffer) < chunk_start + size + 2:
                    return None
                if size == 0:
                    consumed = chunk_start + 2  # no trailers: granian sends none
                    break
                body += self.buffer[chunk_start : chunk_start + size]
                position = chunk_start + size + 2
            payload = bytes(body)
        else:
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < start + length:
                return None
            payload = bytes(self.buffer[start : start + length])
            consumed = start + length
        del self.buffer[:consumed]
        return Answer(status=int(lines[0][9:12]), headers=headers, body=payload)


class Connection:
    """One keep-alive connection, reopened when the server closes it; one request in flight at a time."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._protocol: _Protocol | None = None
        self._host_line = f"Host: {host}:{port}\r\n".encode()

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
        return protocol

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Answer:
        if self._protocol is None or self._protocol.closed:
            self._protocol = await self._open()
        protocol = self._protocol
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host_line]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}\r\n".encode())
        if body is not None:
            head.append(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        if body is not None:
            head.append(body)
        protocol.buffer.clear()
        protocol.waiter = asyncio.get_running_loop().create_future()
        assert protocol.transport is not None
        protocol.transport.write(b"".join(head))
        try:
            answer = await asyncio.wait_for(protocol.waiter, self.timeout)
        except TimeoutError:
            self.close()
            raise ConnectionLost(f"no answer within {self.timeout:.0f} s") from None
        finally:
            protocol.waiter = None
        if answer.headers.get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
