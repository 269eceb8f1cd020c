"""Submit throughput over HTTP (keep-alive httpx) versus a direct `app.enqueue`, one table.

    .venv/bin/python bench/api_bench.py [--n 3000] [--concurrency 1,16,64]

The API runs as `conveyor serve` in its own process on a fresh SQLite file (no worker, so only
submission is measured); the load comes from this process. Direct enqueue runs here, on another
fresh file. Every submission is a committed, durable job in both cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conveyor import Conveyor  # noqa: E402
from conveyor.apikeys import ApiKeys  # noqa: E402
from conveyor.examples import register_examples  # noqa: E402

BODY = {"job_type": "noop", "parameters": {"n": 1}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def direct(folder: Path, n: int) -> tuple[float, list[float]]:
    app = register_examples(Conveyor(f"sqlite:///{folder / 'direct.db'}"))
    for _ in range(100):
        app.enqueue("noop", {"n": 1})
    latencies = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        app.enqueue("noop", {"n": 1})
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    app.close()
    return n / elapsed, latencies


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    url = f"sqlite:///{folder / 'api.db'}"
    with Conveyor(url) as app:
        key = ApiKeys(app).create("bench", "write")[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVEYOR_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "conveyor", "serve", "--db", url, "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base, key
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the API server did not start")


def http_sequential(base: str, key: str, n: int) -> tuple[float, list[float]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(100):
            client.post("/api/jobs/", json=BODY)
        latencies = []
        start = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            response = client.post("/api/jobs/", json=BODY)
            latencies.append(time.perf_counter() - t)
            assert response.status_code == 201, response.text
        return n / (time.perf_counter() - start), latencies


async def http_concurrent(base: str, key: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=60) as client:
        latencies: list[float] = []
        remaining = iter(range(n))

        async def lane() -> None:
            for _ in remaining:
                t = time.perf_counter()
                response = await client.post("/api/jobs/", json=BODY)
                latencies.append(time.perf_counter() - t)
                assert response.status_code == 201, response.text

        start = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return n / (time.perf_counter() - start), latencies


async def raw_keepalive(base: str, key: str, n: int, connections: int) -> tuple[float, list[float]]:
    """The same POSTs from a minimal HTTP/1.1 client (asyncio streams, one keep-alive connection
    per lane): shows what the server sustains when the client costs next to nothing."""
    host, port = base.removeprefix("http://").split(":")
    body = json.dumps(BODY).encode()
    head = (f"POST /api/jobs/ HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    remaining = iter(range(n))

    async def lane() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in remaining:
            t = time.perf_counter()
            writer.write(head)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            assert b" 201 " in status_line, status_line
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(connections)))
    return n / (time.perf_counter() - start), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="submissions per row")
    parser.add_argument("--concurrency", default="16,64", help="concurrent HTTP clients for the extra rows")
    args = parser.parse_args()
    rows: list[tuple[str, float, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="conveyor-api-bench-") as tmp:
        folder = Path(tmp)
        rate, lat = direct(folder, args.n)
        rows.append(("direct app.enqueue (in process)", rate, lat))
        proc, base, key = start_server(folder)
        try:
            rate, lat = http_sequential(base, key, args.n)
            rows.append(("HTTP POST, 1 keep-alive client", rate, lat))
            for c in (int(x) for x in args.concurrency.split(",") if x):
                rate, lat = asyncio.run(http_concurrent(base, key, args.n, c))
                rows.append((f"HTTP POST, {c} concurrent clients", rate, lat))
            for c in (int(x) for x in args.concurrency.split(",") if x):
                rate, lat = asyncio.run(raw_keepalive(base, key, args.n, c))
                rows.append((f"raw HTTP/1.1 client, {c} connections", rate, lat))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    load = os.getloadavg()[0]
    print(f"\nSubmit throughput, {args.n} jobs per row, {os.cpu_count()} cores, load average {load:.1f}\n")
    print(f"| {'path':36} | {'jobs/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 38}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    for name, rate, lat in rows:
        print(f"| {name:36} | {rate:8.0f} | {percentile(lat, 0.5) * 1000:7.2f} | {percentile(lat, 0.99) * 1000:7.2f} |")
    base_rate = rows[0][1]
    seq = rows[1][1]
    print(f"\nAPI overhead per submission (sequential): {1000 / seq - 1000 / base_rate:.2f} ms "
          f"({base_rate / seq:.1f}x the direct cost)")


if __name__ == "__main__":
    main()
