#!/usr/bin/env python3
"""The mail side of scripts/bench.sh: a minimal SMTP listener, and a
population of legitimate clients that open real SMTP connections
(connect, read the 220 greeting, QUIT, read 221) from addresses of their
own, measuring how many succeed and how long the TCP connect takes.

  bench_smtp.py serve [--port 25]
  bench_smtp.py clients --dst ADDR --prefix P [--count N] [--duration S]
                [--interval S] [--timeout S] [--once] [--spread S]

Clients use the addresses PREFIX1 .. PREFIXN (e.g. --prefix 2001:db8:1::
gives 2001:db8:1::1 ...), which must be configured on an interface.
--once: every client connects once (the warm-up that makes them verified,
or the one try of a source never seen before). --spread S: client i starts
i*S/N seconds late, so that they do not all try at the same moment.
Output of clients: one JSON object {attempts, ok, connect_ms: [...]}.
"""
import argparse
import asyncio
import json
import signal
import sys
import time


async def serve(port):
    async def session(reader, writer):
        try:
            writer.write(b"220 bench.example ESMTP\r\n")
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    break
                if line.strip().upper() == b"QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    await writer.drain()
                    break
                writer.write(b"250 2.0.0 ok\r\n")
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, host="::", port=port, backlog=4096,
                                        reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


async def one_connection(dst, port, src, timeout):
    """(ok, connect_ms): ok when the whole SMTP exchange finished in time."""
    t0 = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(dst, port, local_addr=(src, 0)), timeout)
        connect_ms = (time.monotonic() - t0) * 1000
        left = timeout - (time.monotonic() - t0)
        banner = await asyncio.wait_for(reader.readline(), max(left, 0.01))
        if not banner.startswith(b"220"):
            return False, connect_ms
        writer.write(b"QUIT\r\n")
        await writer.drain()
        left = timeout - (time.monotonic() - t0)
        bye = await asyncio.wait_for(reader.readline(), max(left, 0.01))
        return bye.startswith(b"221"), connect_ms
    except (asyncio.TimeoutError, OSError):
        return False, None
    finally:
        if writer:
            writer.close()


async def clients(a):
    res = {"attempts": 0, "ok": 0, "connect_ms": []}
    end = time.monotonic() + a.duration

    async def client(i, src):
        await asyncio.sleep(i * a.spread / a.count)
        while True:
            ok, ms = await one_connection(a.dst, a.port, src, a.timeout)
            res["attempts"] += 1
            res["ok"] += ok
            if ok:
                res["connect_ms"].append(round(ms, 3))
            if a.once or time.monotonic() + a.interval >= end:
                return
            await asyncio.sleep(a.interval)

    await asyncio.gather(*(client(i, f"{a.prefix}{i + 1:x}") for i in range(a.count)))
    json.dump(res, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=25)
    c = sub.add_parser("clients")
    c.add_argument("--dst", required=True)
    c.add_argument("--port", type=int, default=25)
    c.add_argument("--prefix", required=True)
    c.add_argument("--count", type=int, default=10)
    c.add_argument("--duration", type=float, default=5)
    c.add_argument("--interval", type=float, default=0.25)
    c.add_argument("--timeout", type=float, default=3)
    c.add_argument("--once", action="store_true")
    c.add_argument("--spread", type=float, default=0)
    a = p.parse_args()
    if a.cmd == "serve":
        asyncio.run(serve(a.port))
    else:
        asyncio.run(clients(a))


if __name__ == "__main__":
    main()
