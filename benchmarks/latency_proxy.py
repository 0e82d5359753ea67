"""A TCP proxy that puts a network's round trip between a client and a server on this machine.

Each chunk of bytes is held RTT/2 in each direction before it is passed on, and a new connection
waits one RTT before its first bytes go out (the TCP handshake a real network would cost). Chunks
are held, never throttled: there is no bandwidth cap, so a large body pays the latency once, as on
a fast long link. One process can stand in front of several servers (MLflow and OpenMetadata).

    .venv/bin/python -m benchmarks.latency_proxy --rtt-ms 20 http://127.0.0.1:5000 http://127.0.0.1:8585

prints one line per target, `TARGET -> http://127.0.0.1:PORT`, then serves until stopped.
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from urllib.parse import urlsplit

CHUNK = 65536


async def _forward(reader: asyncio.StreamReader, reader_socket: socket.socket, writer: asyncio.StreamWriter,
                   delay: float, not_before: float = 0.0) -> None:
    """Copy bytes from `reader` to `writer`, each chunk sent `delay` seconds after it arrived (and
    not before `not_before`), in order; the end of the stream is passed on the same way."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while chunk := await reader.read(CHUNK):
            _quick_ack(reader_socket)
            queue.put_nowait((max(loop.time() + delay, not_before), chunk))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    try:
        await sender
    except ConnectionError:
        pass


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge what was read at once. Without it the proxy's own delayed ACKs (~40 ms on
    Linux) would stall a server that writes an answer's headers and body separately (as `mlflow
    server` does), an effect of the proxy, not of the network it stands for."""
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def handler(host: str, port: int, rtt: float):
    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        handshake_done = asyncio.get_running_loop().time() + rtt
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _forward(client_reader, client_writer.get_extra_info("socket"), server_writer, rtt / 2,
                         handshake_done + rtt / 2),
                _forward(server_reader, server_writer.get_extra_info("socket"), client_writer, rtt / 2))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    return serve


async def run(targets: list[str], rtt_ms: float) -> None:
    servers = []
    for target in targets:
        parts = urlsplit(target)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        server = await asyncio.start_server(handler(host, port, rtt_ms / 1000), "127.0.0.1", 0)
        servers.append(server)
        print(f"{target} -> http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, required=True, help="round trip to add, in milliseconds")
    parser.add_argument("targets", nargs="+", help="servers to stand in front of, e.g. http://127.0.0.1:5000")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.targets, args.rtt_ms))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
