"""Running requests: planning steps, running each one durably, finishing.

``process(request_id)`` moves a verified (or, where needed, confirmed) request to
``in_progress`` and writes its plan, one ``dsr_step`` row per step, in the same
transaction. Each step is marked ``running`` (committed) before its handler runs and
``done`` with its result (committed) after; a process killed anywhere leaves a step
``pending`` or ``running``, and the next ``process`` runs it again. Handlers are
idempotent, so running a step twice has the effect of running it once. One step's
``done`` and the next one's ``running`` commit together (one transaction per step). An
access or portability request, whose one step (``collect``) only reads, goes from
``verified`` to ``completed`` in a single transaction (:meth:`Runner._answer`).

When the steps are done the request waits for recipients (if any must confirm) and
completes when the last one has; the person is then told, and for an erasure the
sealed identities and contact address are wiped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from integritet.errors import RequestError
from integritet.requests import (
    access,
    batch,
    erase,
    notices,
    object,
    propagate,
    rectify,
    restrict,
)
from integritet.requests.context import Context
from integritet.requests.lifecycle import Kind, Lifecycle, Status
from integritet.requests.models import RecipientTaskRow, RequestRow, StepRow
from integritet.requests.people import snapshot
from integritet.requests.propagate import OUTSTANDING
from integritet.vault import faults

Handler = Callable[[Context, Lifecycle, str], dict[str, Any]]
FaultHook = Callable[[str], None]

REPORTS_KEPT = 64  # access reports kept in memory for ``report()`` right after processing
REPORT_TTL_S = 60.0


def plan(ctx: Context, kind: Kind) -> list[str]:
    """The steps of a request of ``kind``, in order."""
    if kind in (Kind.access, Kind.portability):
        return ["collect"]
    if kind == Kind.rectification:
        return ["snapshot", "apply", "recipients"]
    if kind == Kind.restriction:
        return ["snapshot", "restrict", "recipients"]
    if kind == Kind.objection:
        return ["snapshot", "suppress", "recipients"]
    datasets = [f"dataset:{name}" for name in sorted(ctx.connectors)]
    return ["snapshot", *datasets, "consent", "vault", "recipients", "receipt"]


def _collect(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    return {"counts": access.report_for(ctx, lc, row).counts()}


def _recipients(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    changes = rectify.recipient_changes(lc, row) if row.kind == Kind.rectification.value else None
    return propagate.tell(ctx, lc, request_id, changes)


HANDLERS: dict[str, Handler] = {
    "collect": _collect,
    "snapshot": snapshot,
    "apply": rectify.apply,
    "restrict": restrict.restrict,
    "suppress": object.suppress,
    "consent": erase.forget_consents,
    "vault": erase.erase_vault,
    "recipients": _recipients,
    "receipt": erase.sign_receipt,
}


def _handler(name: str) -> Handler:
    if name.startswith("dataset:"):
        dataset = name.split(":", 1)[1]
        return lambda ctx, lc, rid: erase.erase_dataset(ctx, lc, rid, dataset)
    return HANDLERS[name]


class Runner:
    """Runs the pending work of requests.

    At each persisted boundary it calls :func:`integritet.vault.faults.point` with
    ``request.planned``, ``request.before:<step>``, ``request.ran:<step>``,
    ``request.after:<step>``, ``request.waiting`` and ``request.told``, so tests (or
    ``INTEGRITET_FAILPOINT``) can crash it exactly there."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle, fault: FaultHook | None = None) -> None:
        self.ctx = ctx
        self.lc = lifecycle
        self._hook = fault
        # request id -> (monotonic time, report): personal data, in this process's memory
        # only, handed out once by take_report()
        self._reports: OrderedDict[str, tuple[float, access.Report]] = OrderedDict()

    def take_report(self, request_id: str) -> access.Report | None:
        """The report this runner built while completing ``request_id`` (within
        :data:`REPORT_TTL_S`), once; None otherwise."""
        kept = self._reports.pop(request_id, None)
        if kept is None or time.monotonic() - kept[0] > REPORT_TTL_S:
            return None
        return kept[1]

    def _keep_report(self, request_id: str, report: access.Report) -> None:
        now = time.monotonic()
        self._reports[request_id] = (now, report)
        while len(self._reports) > REPORTS_KEPT:
            self._reports.popitem(last=False)
        for rid, (at, _) in list(self._reports.items()):
            if now - at <= REPORT_TTL_S:
                break
            del self._reports[rid]

    def fault(self, point: str) -> None:
        """A persisted boundary: ``request.<point>`` in :mod:`integritet.vault.faults`."""
        faults.point(f"request.{point}")
        if self._hook is not None:
            self._hook(point)

    def runnable(self) -> list[str]:
        """Ids of requests that ``process`` would move on now."""
        open_states = [
            Status.verified,
            Status.confirmed,
            Status.in_progress,
            Status.waiting_for_recipients,
        ]
        with self.ctx.sessions() as session:
            rows = session.scalars(
                select(RequestRow)
                .where(RequestRow.status.in_([s.value for s in open_states]))
                .order_by(RequestRow.received_at)
            ).all()
        return [row.id for row in rows if self._ready(row)]

    def _ready(self, row: RequestRow) -> bool:
        if row.status != Status.verified.value:
            return True
        return not (row.kind == Kind.erasure.value and self.ctx.manifest.rights.confirm_erasure)

    def process(self, request_id: str) -> Status:
        """Move one request on as far as it can go now; returns its status."""
        status = self._start(request_id)
        if status == Status.in_progress:
            results = self._run_steps(request_id)
            told = "recipients" in results  # no recipients step: no task can be outstanding
            if not told or not self._outstanding(request_id):
                return self._complete(request_id, results)
            return self._wait_for_recipients(request_id)
        if status == Status.waiting_for_recipients and not self._outstanding(request_id):
            return self._complete(request_id)
        return status

    def process_many(
        self, request_ids: list[str], *, batch: int = 50, workers: int = 1
    ) -> dict[str, Status]:
        """Move many requests on: erasures ``batch`` at a time, each step for the whole
        batch (:mod:`integritet.requests.batch`); other kinds one by one. ``workers``
        threads take batches concurrently. Returns each request's status."""
        ids = list(dict.fromkeys(request_ids))
        parts = [ids[i : i + max(1, batch)] for i in range(0, len(ids), max(1, batch))]
        out: dict[str, Status] = {}
        if workers <= 1 or len(parts) <= 1:
            for part in parts:
                out.update(self._process_batch(part))
            return out
        with ThreadPoolExecutor(workers) as pool:
            for done in pool.map(self._process_batch, parts):
                out.update(done)
        return out

    def _process_batch(self, request_ids: list[str]) -> dict[str, Status]:
        statuses, kinds = self._start_many(request_ids)
        erasures = [
            rid
            for rid in request_ids
            if statuses.get(rid) == Status.in_progress and kinds.get(rid) == Kind.erasure.value
        ]
        out: dict[str, Status] = {}
        for rid in request_ids:
            if rid not in erasures:
                out[rid] = self.process(rid)
        if not erasures:
            return out
        try:
            self._run_steps_many(erasures)
        except Exception:  # one request's failure must not hold up the others
            for rid in erasures:
                out[rid] = self.process(rid)
            return out
        left = self._outstanding_many(erasures)
        finished = [rid for rid in erasures if left[rid] == 0]
        out.update(self._complete_many(finished))
        for rid in erasures:
            if rid not in finished:
                out[rid] = self._wait_for_recipients(rid)
        return out

    def _start_many(self, request_ids: list[str]) -> tuple[dict[str, Status], dict[str, str]]:
        """Plan every verified (or confirmed, where needed) request in one transaction."""
        statuses: dict[str, Status] = {}
        kinds: dict[str, str] = {}
        planned = False
        with self.ctx.sessions() as session, session.begin(), session.no_autoflush:
            rows = self.lc.load_many(session, request_ids, lock=True)
            starting: list[RequestRow] = []
            for row in rows.values():
                kinds[row.id] = row.kind
                statuses[row.id] = Status(row.status)
                if row.status not in (Status.verified.value, Status.confirmed.value):
                    continue
                if not self._ready(row):
                    continue  # process() says why
                starting.append(row)
                for seq, name in enumerate(plan(self.ctx, Kind(row.kind))):
                    session.add(
                        StepRow(request_id=row.id, seq=seq, name=name, status="pending", attempts=0)
                    )
                statuses[row.id] = Status.in_progress
                planned = True
            if starting:
                self.lc.transition_many(session, starting, Status.in_progress, "system:requests")
        if planned:
            self.fault("planned")
        return statuses, kinds

    def _run_steps_many(self, request_ids: list[str]) -> None:
        with self.ctx.sessions() as session:
            steps = list(
                session.scalars(
                    select(StepRow)
                    .where(StepRow.request_id.in_(request_ids))
                    .order_by(StepRow.request_id, StepRow.seq)
                )
            )
        names: list[str] = []
        for step in steps:
            if step.name not in names:
                names.append(step.name)
        for name in names:
            todo = {s.request_id: s.id for s in steps if s.name == name and s.status != "done"}
            if not todo:
                continue
            self._mark_many(list(todo.values()), "running", {})
            self.fault(f"before:{name}")
            results = batch.handler(name, _handler)(self.ctx, self.lc, list(todo))
            self.fault(f"ran:{name}")
            self._mark_many(
                list(todo.values()), "done", {todo[rid]: results.get(rid) for rid in todo}
            )
            self.fault(f"after:{name}")

    def _outstanding_many(self, request_ids: list[str]) -> dict[str, int]:
        with self.ctx.sessions() as session:
            waiting = list(
                session.scalars(
                    select(RecipientTaskRow).where(
                        RecipientTaskRow.request_id.in_(request_ids),
                        RecipientTaskRow.status.in_(OUTSTANDING),
                    )
                )
            )
        if not waiting:
            return {rid: 0 for rid in request_ids}
        if self.ctx.outbox is not None and any(t.method == "webhook" for t in waiting):
            limit = getattr(self.ctx.outbox, "batch", 0)
            while self.ctx.outbox.deliver_due() >= limit > 0:
                pass  # a full batch was claimed: more may be due
        return propagate.poll_many(self.ctx, request_ids)

    def _complete_many(self, request_ids: list[str]) -> dict[str, Status]:
        """Tell each person, then complete the batch in one transaction (as :meth:`_complete`)."""
        if not request_ids:
            return {}
        with self.ctx.sessions() as session:
            rows = self.lc.load_many(session, request_ids)
            results: dict[str, dict[str, Any]] = {rid: {} for rid in request_ids}
            for s in session.scalars(select(StepRow).where(StepRow.request_id.in_(request_ids))):
                results[s.request_id][s.name] = s.result
            todo = [row for row in rows.values() if row.status != Status.completed.value]
            for row in todo:
                contact = self.lc.open_value(row, "contact_sealed")
                summary = _summary(row.kind, results[row.id])
                notices.send(
                    self.ctx, contact, "completed", request=row.id, kind=row.kind, **summary
                )
        if todo:
            self.fault("told")
        with self.ctx.sessions() as session, session.begin(), session.no_autoflush:
            rows = self.lc.load_many(session, request_ids, lock=True)
            ending = [row for row in rows.values() if row.status != Status.completed.value]
            for row in ending:
                if row.kind == Kind.erasure.value:
                    for column in ("contact_sealed", "identities_sealed", "payload_sealed"):
                        setattr(row, column, None)
            if ending:
                self.lc.transition_many(session, ending, Status.completed, "system:requests")
        return {rid: Status.completed for rid in request_ids}

    def _start(self, request_id: str) -> Status:
        """Plan a verified (or confirmed) request; returns its status.

        An access (or portability) request is answered here, in this one transaction
        (:meth:`_answer`): its only step reads, and nothing has to wait."""
        report: access.Report | None = None
        with self.ctx.sessions() as session, session.begin(), session.no_autoflush:
            row = self.lc.load(session, request_id, lock=True)
            if row.status not in (Status.verified.value, Status.confirmed.value):
                if row.status == Status.received.value:
                    raise RequestError(f"request {request_id} is not verified yet")
                return Status(row.status)
            if not self._ready(row):
                raise RequestError(
                    f"erasure request {request_id} is not confirmed with the person yet "
                    "(send a code or `request approve`)"
                )
            names = plan(self.ctx, Kind(row.kind))
            if names == ["collect"]:
                report = self._answer(session, row)
            else:
                self.lc.transition(session, row, Status.in_progress, "system:requests")
                for seq, name in enumerate(names):
                    session.add(
                        StepRow(
                            request_id=request_id, seq=seq, name=name, status="pending", attempts=0
                        )
                    )
        if report is not None:
            self._keep_report(request_id, report)
            return Status.completed
        self.fault("planned")
        return Status.in_progress

    def _answer(self, session: Session, row: RequestRow) -> access.Report:
        """An access request from ``verified`` to ``completed`` in the caller's transaction.

        The slow reads come first (vault, datasets, consents, disclosures; the vault read's
        audit event deferred), then the person is told (crash point ``request.told``), then
        everything is recorded: ``in_progress`` (audited), the ``vault.read`` event, the
        ``collect`` step ``done`` with its counts, ``completed`` (audited). Nothing is
        committed until all of it is: a crash or an error before the commit leaves the
        request ``verified`` and a rerun answers it again (the person may be told twice, as
        after a crash at ``request.told`` for any kind). The audit append lock is taken
        only at the end, so slow reads or mail do not hold up other appenders."""
        deferred: list[Callable[[], int]] = []
        report = access.report_for(self.ctx, self.lc, row, session, deferred)
        result = {"counts": report.counts()}
        contact = self.lc.open_value(row, "contact_sealed")
        summary = _summary(row.kind, {"collect": result})
        notices.send(self.ctx, contact, "completed", request=row.id, kind=row.kind, **summary)
        self.fault("told")
        self.lc.transition(session, row, Status.in_progress, "system:requests")
        for emit in deferred:
            emit()
        now = self.ctx.clock.now()
        session.add(
            StepRow(
                request_id=row.id,
                seq=0,
                name="collect",
                status="done",
                attempts=1,
                started_at=now,
                finished_at=now,
                result=result,
            )
        )
        self.lc.transition(session, row, Status.completed, "system:requests")
        return report

    def steps(self, request_id: str) -> list[StepRow]:
        with self.ctx.sessions() as session:
            query = select(StepRow).where(StepRow.request_id == request_id)
            return list(session.scalars(query.order_by(StepRow.seq)))

    def _run_steps(self, request_id: str) -> dict[str, Any]:
        """Run the steps not done yet; returns every step's result by name."""
        results: dict[str, Any] = {}
        todo = []
        for step in self.steps(request_id):
            if step.status == "done":
                results[step.name] = step.result
            else:
                todo.append(step)
        if todo:
            self._mark(todo[0].id, "running")
        for i, step in enumerate(todo):
            self.fault(f"before:{step.name}")
            result = _handler(step.name)(self.ctx, self.lc, request_id)
            self.fault(f"ran:{step.name}")
            following = todo[i + 1].id if i + 1 < len(todo) else None
            self._advance(step.id, result, following)
            self.fault(f"after:{step.name}")
            results[step.name] = result
        return results

    def _advance(self, step_id: int, result: dict[str, Any], following: int | None) -> None:
        """One transaction: this step ``done`` with its result and the next one ``running``
        (attempts + 1): the boundary after a step is the boundary before the next."""
        now = self.ctx.clock.now()
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(StepRow)
                .where(StepRow.id == step_id)
                .values(status="done", finished_at=now, result=result)
            )
            if following is not None:
                session.execute(
                    update(StepRow)
                    .where(StepRow.id == following)
                    .values(status="running", attempts=StepRow.attempts + 1, started_at=now)
                )

    def _mark(self, step_id: int, status: str) -> None:
        """One UPDATE in its own transaction (``running``: attempts + 1)."""
        self._mark_many([step_id], status, {})

    def _mark_many(
        self, step_ids: list[int], status: str, results: dict[int, dict[str, Any] | None]
    ) -> None:
        if not step_ids:
            return
        now = self.ctx.clock.now()
        with self.ctx.sessions() as session, session.begin():
            if status == "running":
                session.execute(
                    update(StepRow)
                    .where(StepRow.id.in_(step_ids))
                    .values(status=status, attempts=StepRow.attempts + 1, started_at=now)
                )
                return
            table = cast(Table, StepRow.__table__)
            session.execute(
                update(table)
                .where(table.c.id == bindparam("step"))
                .values(status=status, finished_at=now, result=bindparam("outcome")),
                [{"step": sid, "outcome": results.get(sid)} for sid in step_ids],
            )

    def _wait_for_recipients(self, request_id: str) -> Status:
        with self.ctx.sessions() as session, session.begin():
            row = self.lc.load(session, request_id, lock=True)
            if row.status == Status.in_progress.value:
                self.lc.transition(session, row, Status.waiting_for_recipients, "system:requests")
        self.fault("waiting")
        return Status.waiting_for_recipients

    def _outstanding(self, request_id: str) -> int:
        waiting = [t for t in propagate.tasks(self.ctx, request_id) if t.status in OUTSTANDING]
        if not waiting:
            return 0
        if self.ctx.outbox is not None and any(t.method == "webhook" for t in waiting):
            self.ctx.outbox.deliver_due()
        return propagate.poll(self.ctx, request_id)

    def _complete(self, request_id: str, results: dict[str, Any] | None = None) -> Status:
        """Tell the person, then complete."""
        with self.ctx.sessions() as session:
            row = self.lc.load(session, request_id)
            kind, contact = row.kind, self.lc.open_value(row, "contact_sealed")
        counts = (
            results if results is not None else {s.name: s.result for s in self.steps(request_id)}
        )
        summary = _summary(kind, counts)
        notices.send(self.ctx, contact, "completed", request=request_id, kind=kind, **summary)
        self.fault("told")
        with self.ctx.sessions() as session, session.begin():
            row = self.lc.load(session, request_id, lock=True)
            if row.status == Status.completed.value:
                return Status.completed
            if row.kind == Kind.erasure.value:
                for column in ("contact_sealed", "identities_sealed", "payload_sealed"):
                    setattr(row, column, None)
            self.lc.transition(session, row, Status.completed, "system:requests")
        return Status.completed


def _summary(kind: str, results: dict[str, Any]) -> dict[str, str]:
    if kind in (Kind.access.value, Kind.portability.value):
        counts = (results.get("collect") or {}).get("counts", {})
        total = sum(int(v) for v in counts.values())
        return {
            "summary_sv": f"Vi har sammanställt {total} uppgifter om dig.",
            "summary_en": f"We have compiled {total} items about you.",
        }
    if kind == Kind.erasure.value:
        kept = len((results.get("vault") or {}).get("kept", []))
        return {
            "summary_sv": f"Uppgifter som lagen kräver att vi sparar: {kept} poster.",
            "summary_en": f"Records the law requires us to keep: {kept}.",
        }
    return {}
