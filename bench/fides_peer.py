"""Fides OSS beside integritet: access and erasure requests on the same PostgreSQL dataset.

    .venv/bin/python bench/fides_peer.py --quick   # 10k people; 50 + 50 integritet, 20 + 20 Fides
    .venv/bin/python bench/fides_peer.py --people 100000 --fides-requests 50
    .venv/bin/python bench/fides_peer.py --fides-url http://127.0.0.1:8080   # server already up

One run, one dataset: a fresh PostgreSQL schema is populated by ``bench/requests.py``'s
``company_database`` (13 tables, ~20 rows per person, dropped afterwards; plain indexes on
the two email columns added for Fides' equality match). integritet's side is
``bench/requests.py``'s own measurement (``open_integritet``, ``measure_access``,
``measure_erasure``: vault, audit, webhooks to a local receiver). Fides' side is a
``fides webserver`` subprocess started from its own venv (default /work/fides-venv;
Celery ``task_always_eager``, so the DSR graph runs inside the webserver process, no worker)
with its app database in the ``fides`` database, a postgres ConnectionConfig on the same
schema and the dataset ``bench/fides/crm_dataset.yml`` (email identity, the foreign keys as
references). Requests
are POSTed to ``/api/v1/privacy-request`` (no manual approval, no identity verification) and
polled until ``complete``, one after another:

- access: latency from POST to ``complete`` (access package written by Fides to a local
  JSON storage destination), p50/p95; the same people as integritet's access requests;
- erasure: ``null_rewrite`` of the user.contact / user.name / user.content / user.device
  fields, completed requests per second; other people than integritet's erasure requests.

After the run it checks that Fides really did the work: the first access package holds the
person's rows and the erased people's ``contacts.email`` is NULL. CPU per request: this
process for integritet, the Fides server's process group (/proc) for Fides; PostgreSQL's
own CPU is in neither. Setup of the Fides venv: see ``bench/fides/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from ruamel.yaml import YAML
from sqlalchemy import create_engine, make_url, text

HERE = Path(__file__).resolve().parent
SETUP = HERE / "fides" / "README.md"
ACCESS, ERASURE = "bench_access", "bench_erasure"
ERASE_TARGETS = ("user.contact", "user.name", "user.content", "user.device")
DONE = {"complete"}
FAILED = {"error", "canceled", "denied", "requires_input", "paused"}


def load_dsr_bench() -> ModuleType:
    """bench/requests.py under another name (``requests`` would shadow the PyPI package)."""
    spec = importlib.util.spec_from_file_location("bench_dsr", HERE / "requests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_dsr"] = module
    spec.loader.exec_module(module)
    return module


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields[0] is state; pgrp is field 5 of stat
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def check_venv(venv: Path) -> Path:
    """The ``fides`` executable of the venv, or exit saying how to create it."""
    exe = venv / "bin" / "fides"
    if not exe.exists():
        sys.exit(
            f"no Fides at {exe}; create its own venv (not .venv; see {SETUP}):\n"
            f"  python3 -m venv {venv}\n"
            f"  {venv}/bin/pip install ethyca-fides==2.78.2\n"
            "PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running."
        )
    return exe


class FidesServer:
    """``fides webserver`` from the Fides venv as a subprocess in its own process group."""

    def __init__(self, venv: Path, port: int, workdir: Path, pg_url: str) -> None:
        exe = check_venv(venv)
        env = dict(os.environ)
        env.update(read_env(HERE / "fides" / "fides.env"))
        url = make_url(pg_url)
        env.update(
            FIDES__DATABASE__SERVER=url.host or "127.0.0.1",
            FIDES__DATABASE__PORT=str(url.port or 5432),
        )
        self.log = workdir / "fides-webserver.log"
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(exe), "webserver", "--port", str(port)],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"fides webserver exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.fail("fides webserver not healthy after 300 s")

    def fail(self, why: str) -> None:
        tail = self.log.read_text(errors="replace").splitlines()[-30:]
        self.stop()
        sys.exit(f"{why}; last lines of {self.log}:\n" + "\n".join(tail))

    def cpu_s(self) -> float:
        return group_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:2000]}"
        )
    body = response.json()
    if isinstance(body, dict) and body.get("failed"):
        raise RuntimeError(f"{response.request.url.path}: {body['failed']}")
    return body


def fides_client(base_url: str, client_id: str, secret: str) -> httpx.Client:
    token = ok(
        httpx.post(
            f"{base_url}/api/v1/oauth/token",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
            timeout=30,
        )
    )["access_token"]
    return httpx.Client(
        base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )


def configure_fides(client: httpx.Client, pg_url: str, schema: str) -> None:
    """Storage, the two policies, the postgres connection and the dataset (all upserts)."""
    storage = {
        "name": "bench local json",
        "key": "bench_local",
        "type": "local",
        "format": "json",
        "details": {"naming": "request_id"},
    }
    ok(client.patch("/storage/config", json=[storage]))
    ok(
        client.patch(
            "/dsr/policy",
            json=[
                {"name": "bench access", "key": ACCESS},
                {"name": "bench erasure", "key": ERASURE},
            ],
        )
    )
    rule = {
        "name": "access all user data",
        "key": f"{ACCESS}_rule",
        "action_type": "access",
        "storage_destination_key": "bench_local",
    }
    ok(client.patch(f"/dsr/policy/{ACCESS}/rule", json=[rule]))
    target = {"name": "user", "key": f"{ACCESS}_user", "data_category": "user"}
    ok(client.patch(f"/dsr/policy/{ACCESS}/rule/{ACCESS}_rule/target", json=[target]))
    erasure_rule: dict[str, Any] = {
        "name": "erase contact data",
        "key": f"{ERASURE}_rule",
        "action_type": "erasure",
        "masking_strategy": {"strategy": "null_rewrite", "configuration": {}},
    }
    ok(client.patch(f"/dsr/policy/{ERASURE}/rule", json=[erasure_rule]))
    targets = [
        {"name": c, "key": f"{ERASURE}_{c.replace('.', '_')}", "data_category": c}
        for c in ERASE_TARGETS
    ]
    ok(client.patch(f"/dsr/policy/{ERASURE}/rule/{ERASURE}_rule/target", json=targets))
    conn = {
        "name": "bench crm",
        "key": "bench_crm",
        "connection_type": "postgres",
        "access": "write",
    }
    ok(client.patch("/connection", json=[conn]))
    url = make_url(pg_url)
    secret = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.database,
        "username": url.username,
        "password": url.password,
        "db_schema": schema,
    }
    ok(client.put("/connection/bench_crm/secret", json=secret))
    dataset = YAML(typ="safe").load(HERE / "fides" / "crm_dataset.yml")["dataset"][0]
    ok(client.patch("/connection/bench_crm/dataset", json=[dataset]))


def fides_request(client: httpx.Client, policy: str, email: str) -> str:
    """POST one privacy request and poll until it is complete; its id."""
    body = ok(
        client.post("/privacy-request", json=[{"identity": {"email": email}, "policy_key": policy}])
    )
    rid: str = body["succeeded"][0]["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        page = ok(client.get("/privacy-request", params={"request_id": rid}))
        status = page["items"][0]["status"]
        if status in DONE:
            return rid
        if status in FAILED:
            logs = ok(client.get(f"/privacy-request/{rid}/log", params={"size": 100}))
            errors = [
                (e["collection_name"], e["message"])
                for e in logs["items"]
                if e["status"] == "error"
            ]
            raise RuntimeError(f"Fides request {rid} ({policy}) ended {status}: {errors}")
        time.sleep(0.01)
    raise RuntimeError(f"Fides request {rid} ({policy}) not complete after 300 s")


def access_package(workdir: Path) -> dict[str, int]:
    """Rows per collection in the first access package Fides wrote to its local storage
    (``fides_uploads`` in the server's working directory)."""
    files = sorted((workdir / "fides_uploads").glob("*"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise RuntimeError(f"Fides wrote no access package under {workdir / 'fides_uploads'}")
    data = json.loads(files[0].read_text())
    return {key.split(":")[-1]: len(rows) for key, rows in data.items() if isinstance(rows, list)}


def measure_fides(
    client: httpx.Client, server: FidesServer | None, emails: list[str], erase: list[str]
) -> dict[str, Any]:
    for address in emails[:2]:  # warm-up: connection pool, graph build, first upload
        fides_request(client, ACCESS, address)
    cpu0 = server.cpu_s() if server else 0.0
    latencies = []
    for address in emails:
        t0 = time.perf_counter()
        fides_request(client, ACCESS, address)
        latencies.append(time.perf_counter() - t0)
    cpu1 = server.cpu_s() if server else 0.0
    t0 = time.perf_counter()
    for address in erase:
        fides_request(client, ERASURE, address)
    erase_s = time.perf_counter() - t0
    cpu2 = server.cpu_s() if server else 0.0
    return {
        "access_p50_ms": statistics.median(latencies) * 1000,
        "access_p95_ms": sorted(latencies)[
            min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))
        ]
        * 1000,
        "access_cpu_ms": (cpu1 - cpu0) / len(latencies) * 1000,
        "access_n": len(latencies),
        "erase_n": len(erase),
        "erase_per_s": len(erase) / erase_s,
        "erase_cpu_ms": (cpu2 - cpu1) / len(erase) * 1000,
    }


def measure_integritet(
    dsr: ModuleType,
    crm_url: str,
    vault_url: str,
    home: Path,
    access: list[int],
    erase: list[int],
) -> dict[str, Any]:
    """bench/requests.py's own measurement (``measure_access``, ``measure_erasure``, one
    request at a time) on the given company database and people."""
    receiver = dsr.Receiver()
    try:
        r, vault = dsr.open_integritet(crm_url, vault_url, home, receiver.url)
        try:
            subjects = dsr.seed_vault(vault, access + erase)
            got: dict[str, Any] = dsr.measure_access(r, [subjects[i] for i in access])
            got.update(dsr.measure_erasure(r, [subjects[i] for i in erase]))
            got.update(webhook_calls=receiver.calls, bad_signatures=receiver.bad)
            return got
        finally:
            r.close()
            vault.close()
    finally:
        receiver.close()


def schema_url(pg: str, schema: str) -> str:
    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k people")
    parser.add_argument("--people", type=int, help="people in the company database (100k)")
    parser.add_argument("--requests", type=int, default=50, help="integritet, each kind")
    parser.add_argument("--fides-requests", type=int, default=20, help="Fides, each kind")
    parser.add_argument("--fides-venv", type=Path, default=Path("/work/fides-venv"))
    parser.add_argument("--fides-url", help="use this running Fides server instead")
    parser.add_argument("--port", type=int, default=8089, help="port of the Fides server")
    args = parser.parse_args()
    people = args.people or (10_000 if args.quick else 100_000)
    n_i, n_f = args.requests, args.fides_requests
    if n_f > n_i:
        parser.error("--fides-requests must not exceed --requests (same access people)")
    if not args.fides_url:
        check_venv(args.fides_venv)
    dsr = load_dsr_bench()
    picks = dsr.chosen_people(people, n_i + n_f)
    access, erase_i, erase_f = picks[:n_i], picks[n_i : 2 * n_i], picks[2 * n_i : 2 * n_i + n_f]
    env = read_env(HERE / "fides" / "fides.env")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    admin = create_engine(dsr.PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'fides'")).scalar():
            conn.execute(text("CREATE DATABASE fides"))  # Fides' own app database
    vault_schema = f"bench_fides_vault_{uuid.uuid4().hex[:8]}"
    crm_url, crm_schema = dsr.company_database(people)  # fresh schema, dropped below
    server: FidesServer | None = None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{vault_schema}"'))
                # Fides matches the identity by plain equality: index what it queries, as a
                # Fides deployment would (integritet's lower(trim(email)) indexes stay).
                for table in ("contacts", "newsletter"):
                    conn.execute(text(f'CREATE INDEX ON "{crm_schema}".{table} (email)'))
                conn.execute(text(f'ANALYZE "{crm_schema}".contacts'))
            if args.fides_url:
                base = args.fides_url
            else:
                t0 = time.perf_counter()
                server = FidesServer(args.fides_venv, args.port, workdir, dsr.PG)
                base = server.url
                print(f"  fides webserver up in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            client = fides_client(
                base,
                env["FIDES__SECURITY__OAUTH_ROOT_CLIENT_ID"],
                env["FIDES__SECURITY__OAUTH_ROOT_CLIENT_SECRET"],
            )
            configure_fides(client, dsr.PG, crm_schema)
            ours = measure_integritet(
                dsr, crm_url, schema_url(dsr.PG, vault_schema), workdir / "home", access, erase_i
            )
            print("  integritet measured", file=sys.stderr)
            fides = measure_fides(
                client,
                server,
                [dsr.email(i) for i in access[:n_f]],
                [dsr.email(i) for i in erase_f],
            )
            package = access_package(workdir) if server else {}
            assert not server or package.get("contacts") == 1, f"access package: {package}"
            check = create_engine(crm_url)
            with check.connect() as conn:
                left = conn.execute(
                    text(
                        "SELECT count(*) FROM contacts WHERE id = ANY(:ids) AND email IS NOT NULL"
                    ),
                    {"ids": erase_f},
                ).scalar()
            check.dispose()
            assert left == 0, f"Fides left {left} of {len(erase_f)} erased emails in contacts"
        except Exception:
            if server:
                lines = server.log.read_text(errors="replace").splitlines()
                print("\n".join([x for x in lines if "ERROR" in x][-15:]), file=sys.stderr)
            raise
        finally:
            if server:
                server.stop()
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{vault_schema}" CASCADE'))
            admin.dispose()
            dsr.drop_schema(crm_schema)
    report(people, ours, fides, package)


def report(
    people: int, ours: dict[str, Any], fides: dict[str, Any], package: dict[str, int]
) -> None:
    print(
        f"PostgreSQL, {people:,} people in 13 tables, one request at a time; "
        f"integritet {ours['access_n']} + {ours['erase_n']}, "
        f"Fides {fides['access_n']} + {fides['erase_n']} requests"
    )
    for name, got in (("integritet", ours), ("Fides", fides)):
        print(
            f"{name:<10} access p50 {got['access_p50_ms']:8.1f} ms  "
            f"p95 {got['access_p95_ms']:8.1f} ms  CPU {got['access_cpu_ms']:7.1f} ms/req | "
            f"erasure {got['erase_per_s']:6.2f}/s  CPU {got['erase_cpu_ms']:7.1f} ms/req"
        )
    print(
        f"ratio      access p50: integritet {fides['access_p50_ms'] / ours['access_p50_ms']:.1f}x"
        f" faster; erasure/s: integritet {ours['erase_per_s'] / fides['erase_per_s']:.1f}x"
        " Fides' rate"
    )
    print(
        f"Fides checks: first access package, rows per collection {package or '(not read)'} "
        f"({sum(package.values())} rows); every erased person's contacts.email is NULL"
    )
    print(
        f"webhook calls received by integritet's receiver {ours['webhook_calls']} "
        f"(bad signatures {ours['bad_signatures']})"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
