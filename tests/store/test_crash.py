"""`kill -9` of a process writing encounters, at random moments, many times over one database.

After every kill the database must open (the store notices the unclean shutdown and runs its integrity checks on its
own), the full check must pass, every encounter the writer reported as committed must be there and closed with its
outbox row, and no encounter may be half written: only drafts the writer had committed as drafts, or the one
transaction in flight, may be missing their closing.

The writer is a forked child (Linux): forking skips the interpreter start, so 60 kills fit in about twenty seconds
on two cores. It reports each commit by appending a line to a file after the commit returned; a killed process
loses no bytes it already wrote to a file (they are in the kernel), so the file is a faithful list of what the
store acknowledged.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.store import ClinicStore
from app.store.models import Encounter, FeedbackOutbox
from tests.store.conftest import DOCTOR_PASS, Clinic

KILLS = 60


def writer(data_dir: Path, log_path: Path, request: dict[str, Any], response: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    with open(log_path, "a", encoding="ascii") as log:
        store = ClinicStore.unlock(data_dir, "doctora", DOCTOR_PASS)
        log.write("ready\n")
        log.flush()
        n = 0
        while True:
            n += 1
            patient = store.patients.add(given_names=f"Paciente {seed}-{n}", family_names="Prueba", sex="F",
                                         document_number=f"{seed:03d}{n:06d}")
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.5:
                    encounter = store.encounters.record(patient.id, request=request, response=response,
                                                        final_code="A97")
                    log.write(f"closed {encounter.id}\n")
                else:
                    draft = store.encounters.start(patient.id, request=request, response=response)
                    log.write(f"draft {draft.id}\n")
                    log.flush()
                    store.encounters.close(draft.id, "A97", notes="cerrada")
                    log.write(f"closed {draft.id}\n")
                log.flush()


def read_log(path: Path) -> tuple[bool, set[str], set[str]]:
    ready, drafts, closed = False, set(), set()
    for line in path.read_text(encoding="ascii").splitlines():
        kind, _, ident = line.partition(" ")
        if kind == "ready":
            ready = True
        elif kind == "draft":
            drafts.add(ident)
        elif kind == "closed":
            closed.add(ident)
    return ready, drafts, closed


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_kill_9_while_writing_never_loses_or_half_writes(clinic: Clinic, diagnosis, tmp_path: Path):
    request, response = diagnosis
    context = multiprocessing.get_context("fork")
    rng = random.Random(20261126)
    all_drafts: set[str] = set()
    all_closed: set[str] = set()
    known: set[str] = set()  # encounter ids in the database after the previous round
    killed_before_ready = killed_while_writing = 0
    started = time.monotonic()
    for attempt in range(KILLS):
        log_path = tmp_path / f"writer-{attempt}.log"
        log_path.touch()
        child = context.Process(target=writer, args=(clinic.data_dir, log_path, request, response, attempt))
        child.start()
        if rng.random() < 0.15:
            time.sleep(rng.uniform(0.0, 0.05))  # somewhere in unlocking, opening, migrating, checking
        else:
            # Somewhere in a stream of commits: after a random number of acknowledged encounters (counted, not
            # timed, so a slower disk or a busy machine still gets streams of commits killed), plus a little.
            deadline = time.monotonic() + 20
            wanted = rng.randint(1, 5)
            while time.monotonic() < deadline:
                ready, _, closed = read_log(log_path)
                if ready and len(closed) >= wanted:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        ready, drafts, closed = read_log(log_path)
        killed_while_writing += ready
        killed_before_ready += not ready
        all_drafts |= drafts
        all_closed |= closed

        # The next open notices the crash and checks the database before anyone works on it.
        with clinic.admin() as admin:
            if ready:
                unclean = [e for e in admin.audit.entries(limit=5) if e.action == "store.unclean_shutdown"]
                assert unclean and unclean[0].detail["checks_ok"] is True
            report = admin.check()
            assert report.ok, "\n".join(report.lines("en"))
            with admin.context.transaction() as s:
                encounters = {e.id: e for e in s.scalars(select(Encounter))}
                outbox = set(s.scalars(select(FeedbackOutbox.encounter_id)))
        # Everything acknowledged is there, closed, with its outbox row.
        for ident in all_closed:
            assert ident in encounters and encounters[ident].status == "closed" and ident in outbox
        # Nothing is half written: a closed encounter is complete and has its outbox row; a draft has no part of
        # a closing.
        for ident, encounter in encounters.items():
            if encounter.status == "closed":
                assert ident in outbox and encounter.final_code == "A97" and encounter.response == response
            else:
                assert encounter.closed_at is None and encounter.final_code is None and ident not in outbox
        # And the only new encounter the writer did not report is the one whose commit the kill interrupted.
        unreported = set(encounters) - known - drafts - closed
        assert len(unreported) <= 1, unreported
        assert len(outbox) == sum(e.status == "closed" for e in encounters.values())
        known = set(encounters)
    elapsed = time.monotonic() - started
    assert killed_while_writing >= 40 and killed_before_ready >= 3, (killed_while_writing, killed_before_ready)
    assert len(all_closed) > 100
    print(f"{KILLS} kills in {elapsed:.1f} s, {len(all_closed)} acknowledged encounters")
