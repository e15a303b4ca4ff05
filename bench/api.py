"""REST API benchmark: ``may-contact`` and a record read vs a trivial endpoint, over HTTP.

    .venv/bin/python bench/api.py --quick          # 3 s per phase, 2 rounds
    .venv/bin/python bench/api.py                  # 5 s per phase, 3 rounds
    .venv/bin/python bench/api.py --workers 2      # uvicorn with two worker processes

Load generator: ``wrk`` (``apt-get install -y wrk``), a C program in its own process, so the
client costs little of the two cores. When it is missing the benchmark says how to install
it and falls back to httpx client threads in this process (which then measure mostly the
client: use those figures only as ratios).

1. A fresh ``INTEGRITET_HOME`` (SQLite) is seeded with the Loggamera example: one customer,
   ``--subjects`` people with a contact record, half with a newsletter consent, and an API
   token scoped ``read`` (a system client, as a sending system calls ``may-contact``).
2. The API runs in a subprocess: ``uvicorn --factory integritet.api.asgi:create`` on
   127.0.0.1 with ``--workers`` processes (default 1), ``--http httptools`` and
   ``--loop uvloop`` when installed (``uvicorn[standard]``), no access log; the same server
   for every endpoint.
3. Per endpoint, after a warm-up, two measurements, each repeated ``--rounds`` times with
   the endpoints interleaved (health, may-contact, read, health, ...) so drift in the
   machine's load hits all three alike:

   - *saturation*: ``--connections`` keep-alive connections (closed loop, each sends its
     next request when the answer arrives) for ``--seconds``: the request rate;
   - *latency*: one connection, closed loop: p50/p99 are the time one request takes
     when the server is not queueing (at saturation latency is mostly queueing time).

   Also the server's CPU time per request (``utime + stime`` of the server processes from
   ``/proc``, before and after each phase): less sensitive to other load than wall rates.
   Reported: best round's request rate, p50/p99 latency, CPU ms per request, and the
   ratio to ``GET /api/v1/health`` (the trivial endpoint in the same app) per round and
   its median. Goals (issues 5 and 8): ratio >= 0.70, p99 < 5 ms, server RSS after
   warm-up < 150 MB (``VmRSS``).

The record read is ``GET /api/v1/subjects/{id}/records?purpose=account``: it decrypts the
record under the subject's key and appends an audit event (one committed transaction per
read), so it does strictly more than ``may-contact``. Every request carries the
``Authorization: Bearer`` header (health ignores it). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "loggamera" / "policy.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")

WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "us": %%d, "non2xx": %%d, "errors": %%d, '
    .. '"p50": %%d, "p99": %%d, "p999": %%d, "mean": %%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
"""


@dataclass
class Phase:
    """One measured run of one endpoint."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / max(1, self.requests)


@dataclass
class Endpoint:
    name: str
    paths: list[str]
    saturation: list[Phase] = field(default_factory=list)
    latency: list[Phase] = field(default_factory=list)


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


def server_options(workers: int) -> list[str]:
    """uvicorn's options: workers, and the fast HTTP parser and loop when installed."""
    options = ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if importlib.util.find_spec("httptools") is not None:
        options += ["--http", "httptools"]
    if importlib.util.find_spec("uvloop") is not None:
        options += ["--loop", "uvloop"]
    return options


def start_server(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INTEGRITET_HOME": str(home), "INTEGRITET_POLICY": str(POLICY)}
    env.pop("INTEGRITET_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "integritet.api.asgi:create"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), *server_options(workers)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def server_pids(pid: int) -> list[int]:
    """The server process and its workers (children)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_wrk(
    base: str, token: str, paths: list[str], connections: int, seconds: float, pids: list[int]
) -> Phase:
    quoted = ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": quoted, "token": token})
    try:
        threads = min(2, connections)
        cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s"]
        cmd += ["--timeout", "10s", "-s", script.name, base]
        cpu0 = cpu_seconds(pids)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        cpu = cpu_seconds(pids) - cpu0
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    return Phase(
        data["requests"],
        data["us"] / 1e6,
        data["non2xx"] + data["errors"],
        data["p50"] / 1000,
        data["p99"] / 1000,
        cpu,
    )


def run_httpx(
    base: str, token: str, paths: list[str], connections: int, seconds: float, pids: list[int]
) -> Phase:
    """The fallback: ``connections`` httpx keep-alive client threads in this process."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = threading.Barrier(connections + 1)
    stop = time.perf_counter() + 1e9

    def worker(n: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers) as client:
            client.get("/api/v1/health")
            start.wait()
            i, own = n, latencies[n]
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                response = client.get(paths[i % len(paths)])
                own.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors[n] += 1
                i += connections

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in pool:
        t.start()
    cpu0 = cpu_seconds(pids)
    start.wait()
    began = time.perf_counter()
    stop = began + seconds
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for part in latencies for x in part)

    def pct(q: float) -> float:
        return flat[min(len(flat) - 1, int(q * len(flat)))] * 1000 if flat else float("nan")

    cpu = cpu_seconds(pids) - cpu0
    return Phase(len(flat), elapsed, sum(errors), pct(0.5), pct(0.99), cpu)


def run(args: argparse.Namespace) -> int:
    driver: Callable[..., Phase] = run_wrk
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed (Debian/Ubuntu: apt-get install -y wrk); falling back to "
            "httpx client threads in this process, which share the cores with the server"
        )
        driver = run_httpx
    home = Path(tempfile.mkdtemp(prefix="integritet-bench-api-"))
    try:
        t0 = time.perf_counter()
        token, ids = seed(home, args.subjects)
        print(f"seeded {len(ids)} people in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = start_server(home, port, args.workers)
        try:
            return measure(args, driver, f"http://127.0.0.1:{port}", token, ids, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    driver: Callable[..., Phase],
    base: str,
    token: str,
    ids: list[str],
    pid: int,
) -> int:
    endpoints = [
        Endpoint("health (trivial)", ["/api/v1/health"]),
        Endpoint(
            "may-contact",
            [f"/api/v1/may-contact?subject={s}&purpose=newsletter&channel=email" for s in ids],
        ),
        Endpoint("record read", [f"/api/v1/subjects/{s}/records?purpose=account" for s in ids]),
    ]
    pids = server_pids(pid)
    for e in endpoints:  # warm-up: imports, caches, connections
        driver(base, token, e.paths, args.connections, args.warmup, pids)
    rss = sum(rss_mb(p) for p in pids)
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    for _ in range(args.rounds):
        for e in endpoints:
            e.saturation.append(driver(base, token, e.paths, args.connections, args.seconds, pids))
        for e in endpoints:
            e.latency.append(driver(base, token, e.paths, 1, args.seconds, pids))
    load_after = os.getloadavg()
    client_cpu = time.process_time() - cpu0
    report(args, endpoints, driver is run_wrk)
    print(
        f"server: uvicorn {' '.join(server_options(args.workers))}; RSS after warm-up "
        f"{rss:.0f} MB over {len(pids)} process(es) (at the end: "
        f"{sum(rss_mb(p) for p in server_pids(pid)):.0f} MB)"
    )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs); benchmark process CPU {client_cpu:.1f} s"
    )
    failed = sum(p.errors for e in endpoints for p in (*e.saturation, *e.latency))
    if failed:
        print(f"{failed} requests failed or answered non-2xx")
    return 1 if failed else 0


def report(args: argparse.Namespace, endpoints: list[Endpoint], wrk: bool) -> None:
    client = "wrk" if wrk else "httpx threads in this process"
    print(
        f"\nsaturation: {args.connections} connections ({client}), {args.seconds:g} s x "
        f"{args.rounds} rounds; req/s of the best round; ratio = req/s / health's req/s in "
        "the same round, median of the rounds (each round listed)"
    )
    print(f"{'endpoint':<18} {'req/s':>8} {'ratio':>6} {'rounds':>17} {'CPU ms/req':>11} p99 ms")
    trivial = endpoints[0].saturation
    for e in endpoints:
        ratios = [p.rate / t.rate for p, t in zip(e.saturation, trivial, strict=True)]
        best = max(e.saturation, key=lambda p: p.rate)
        cpu = min(p.cpu_ms for p in e.saturation)
        print(
            f"{e.name:<18} {best.rate:8.0f} {statistics.median(ratios):6.2f} "
            f"{'/'.join(f'{r:.2f}' for r in ratios):>17} {cpu:11.3f} {best.p99_ms:6.1f}"
        )
    print(f"\nlatency: 1 connection, closed loop, {args.seconds:g} s x {args.rounds} rounds")
    print(f"{'endpoint':<18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>11}")
    for e in endpoints:
        best = min(e.latency, key=lambda p: p.p99_ms)
        print(
            f"{e.name:<18} {best.rate:8.0f} {best.p50_ms:7.2f} {best.p99_ms:7.2f} "
            f"{min(p.cpu_ms for p in e.latency):11.3f}   "
            f"(p99 per round: {'/'.join(f'{p.p99_ms:.2f}' for p in e.latency)})"
        )
    trivial_cpu = min(p.cpu_ms for p in endpoints[0].saturation)
    print(
        "\nCPU-time ratio (health's server CPU per request / the endpoint's): "
        + ", ".join(
            f"{e.name} {trivial_cpu / min(p.cpu_ms for p in e.saturation):.2f}"
            for e in endpoints[1:]
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per phase, 2 rounds")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--subjects", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 3.0, 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
