"""Property: whatever customers and machines a technician is assigned, the API never lets
them read a subject outside those assignments (C4), and always lets them read inside."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integritet.access import Actor

from .conftest import Env

CUSTOMERS = 4


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    customers=st.sets(st.integers(0, CUSTOMERS - 1)),
    machines=st.sets(st.sampled_from(["m1", "m2", "m3"])),
)
def test_technician_reads_only_assigned(
    sqlite_env: Env, customers: set[int], machines: set[str]
) -> None:
    env = sqlite_env
    store = env.services.identity
    world = _world(env)
    before = store.actor("tech_a")
    for ref in before.assigned_customers:
        store.unassign("tech_a", "customer", ref)
    for ref in before.assigned_machines:
        store.unassign("tech_a", "machine", ref)
    for i in customers:
        store.assign("tech_a", "customer", world[i][0])
    for machine in machines:
        store.assign("tech_a", "machine", machine)
    token = env.bearer(env.tokens["tech"])
    for i, (_customer, subject) in enumerate(world):
        status = env.client.get(
            f"/api/v1/subjects/{subject}/identities?purpose=account", headers=token
        ).status_code
        assert status == (200 if i in customers else 403), (i, customers)


def _world(env: Env) -> list[tuple[str, str]]:
    """CUSTOMERS customers with one subject each (created once per test function)."""
    if "tech" not in env.tokens:
        env.tokens["tech"] = env.services.identity.create_token("tech", ["read"], owner="tech_a")
        system = Actor.system("test")
        for i in range(CUSTOMERS):
            cid = env.services.vault.create_customer(system, f"Kund {i}")
            sid = env.services.vault.create_subject(
                system, "account", {"email": f"p{i}@example.se"}, customer=cid
            )
            env.customers[f"w{i}"], env.subjects[f"w{i}"] = cid, sid
    return [(env.customers[f"w{i}"], env.subjects[f"w{i}"]) for i in range(CUSTOMERS)]
