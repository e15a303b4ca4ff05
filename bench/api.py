"""REST API benchmark: ``may-contact`` and a record read vs a trivial endpoint, over HTTP.

    .venv/bin/python bench/api.py                 # 10 s per endpoint, 4 client threads
    .venv/bin/python bench/api.py --seconds 3     # quicker

1. A fresh ``INTEGRITET_HOME`` (SQLite) is seeded with the Loggamera example: one customer,
   ``--subjects`` people with a contact record and consents, and an API token scoped
   ``read`` (a system client, as a sending system calls ``may-contact``).
2. ``integritet serve`` runs that home in a subprocess on 127.0.0.1 (uvicorn, one worker;
   the machine has 2 cores, shared by the client threads and the server).
3. Per endpoint: a warm-up, then ``--threads`` httpx clients (keep-alive) call it in a loop
   for ``--seconds``, each over the seeded subjects in turn. Reported: requests/s, p50 and
   p99 latency, and the ratio to ``GET /api/v1/health`` (the trivial endpoint in the same
   app). Goals (issues 5 and 8): ratio >= 0.70, p99 < 5 ms, server RSS after warm-up
   < 150 MB (``VmRSS`` from ``/proc/PID/status``).

The record read is ``GET /api/v1/subjects/{id}/records?purpose=account``: it decrypts the
record under the subject's key and appends an audit event (one committed transaction per
read), so it does strictly more than ``may-contact``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "loggamera" / "policy.yaml"


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def seed(home: Path, subjects: int) -> tuple[str, list[str]]:
    """Seed ``home``; returns (token, subject ids)."""
    from integritet.access import Actor
    from integritet.consent import ConsentSource, ConsentState, Evidence
    from integritet.manifest import load_manifest
    from integritet.services import Services
    from integritet.settings import Settings

    manifest = load_manifest(POLICY)
    settings = Settings(home=home)
    services = Services.open(settings, manifest, notify=lambda _m: None)
    try:
        system = Actor.system("bench")
        customer = services.vault.create_customer(system, "Bench AB")
        evidence = Evidence(ConsentSource.import_, manifest.policy.version)
        ids = []
        for i in range(subjects):
            email = f"person{i}@example.se"
            sid = services.vault.create_subject(
                system, "account", {"email": email}, customer=customer
            )
            services.vault.put_record(
                system, "account", sid, "contact", {"name": f"Person {i}", "email": email}, "person"
            )
            if i % 2 == 0:
                services.consent.record(sid, "newsletter", "email", ConsentState.given, evidence)
            ids.append(sid)
        token = services.identity.create_token("bench", ["read"])
    finally:
        services.close()
    return token, ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INTEGRITET_HOME": str(home)}
    env.pop("INTEGRITET_DATABASE_URL", None)
    exe = Path(sys.executable).parent / "integritet"
    cmd = [str(exe), "serve", "--policy", str(POLICY), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(
    base: str, headers: dict[str, str], paths: Callable[[int], str], threads: int, seconds: float
) -> Result:
    """``threads`` keep-alive clients calling ``paths(i)`` for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = time.perf_counter() + 1e9

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers) as client:
            client.get("/api/v1/health")
            start.wait()
            i, own = n, latencies[n]
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                response = client.get(paths(i))
                own.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors[n] += 1
                i += threads

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.perf_counter()
    stop = began + seconds
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    flat = [x for part in latencies for x in part]
    return Result("", len(flat), elapsed, flat, sum(errors))


def run(args: argparse.Namespace) -> int:
    home = Path(tempfile.mkdtemp(prefix="integritet-bench-api-"))
    try:
        t0 = time.perf_counter()
        token, ids = seed(home, args.subjects)
        print(f"seeded {len(ids)} people in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = start_server(home, port)
        try:
            return measure(args, f"http://127.0.0.1:{port}", token, ids, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(args: argparse.Namespace, base: str, token: str, ids: list[str], pid: int) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    endpoints: dict[str, Callable[[int], str]] = {
        "health (trivial)": lambda _i: "/api/v1/health",
        "may-contact": lambda i: (
            f"/api/v1/may-contact?subject={ids[i % len(ids)]}&purpose=newsletter&channel=email"
        ),
        "record read": lambda i: f"/api/v1/subjects/{ids[i % len(ids)]}/records?purpose=account",
    }
    for paths in endpoints.values():  # warm-up: imports, caches, connections
        load(base, headers, paths, args.threads, args.warmup)
    rss = rss_mb(pid)
    load_before = os.getloadavg()
    results = []
    for name, paths in endpoints.items():
        result = load(base, headers, paths, args.threads, args.seconds)
        result.name = name
        results.append(result)
    load_after = os.getloadavg()
    trivial = results[0].rate
    print(f"{'endpoint':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} errors")
    for r in results:
        print(
            f"{r.name:<18} {r.rate:8.0f} {r.pct(0.50):7.2f} {r.pct(0.99):7.2f} "
            f"{r.rate / trivial:6.2f} {r.errors}"
        )
    print(f"server RSS after warm-up: {rss:.0f} MB (at the end: {rss_mb(pid):.0f} MB)")
    print(
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
        f"({os.cpu_count()} CPUs); {args.threads} client threads in this process"
    )
    print(f"mean latency health {statistics.mean(results[0].latencies) * 1000:.2f} ms")
    return 1 if any(r.errors for r in results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--subjects", type=int, default=200)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
