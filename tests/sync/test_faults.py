"""Nothing lost, nothing duplicated: the outbox pushed through connections cut mid-batch, lost acknowledgements,
500s, slow answers, a server restart, and a `vereda sync` process killed between send and acknowledge.

The restart test stops the module's server, so it comes last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from app.sync.client import CentralClient, RetryPolicy
from app.sync.enrollment import load_enrollment
from app.sync.outbox import push_outbox
from app.sync.run import run_sync
from tests.server.helpers import ROOT, Server
from tests.sync.conftest import Clinic, close_encounters, direct, enroll_clinic, expected_uuids, no_sleep, stored
from tests.sync.proxy import Fault, FaultProxy

FEEDBACK = "feedback:batch"


def push_until_done(clinic: Clinic, url: str, *, runs: int, batch_size: int, retry: RetryPolicy,
                    timeout: tuple[float, float], progress: Any = None) -> list[Any]:
    """What a clinic does: sync again at the next chance until nothing is pending (bounded)."""
    summaries = []
    with clinic.doctor() as doctor:
        enrollment = load_enrollment(doctor)
        assert enrollment is not None
        for _ in range(runs):
            with CentralClient(url, enrollment.token, retry, timeout) as client:
                summaries.append(push_outbox(direct(doctor), client, enrollment.clinic_id, batch_size=batch_size,
                                             progress=progress))
            if doctor.outbox.counts()["pending"] == 0:
                break
    return summaries


def test_a_client_killed_between_send_and_acknowledge_resends_and_the_server_keeps_one(
        clinic: Clinic, answers: Any, server: Server, proxy: FaultProxy, tmp_path: Any) -> None:
    enroll_clinic(clinic, proxy.url, server, name="Puesto de Salud El Kill")
    close_encounters(clinic, answers, 12)
    before = len(stored(server.database))
    proxy.add(Fault("hold_response", FEEDBACK))
    env = {**os.environ, "VEREDA_LOG_DIR": str(tmp_path / "logs")}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sync", "--data-dir", str(clinic.data_dir), "--passphrase-file",
         str(clinic.passphrase_file), "--no-model-update", "--batch-size", "5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proxy.held.wait(60), "the sync process never sent a batch"
        # The server has stored the first batch; its answer is held at the proxy. Kill the client now.
        deadline = time.monotonic() + 10
        while len(stored(server.database)) < before + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        proxy.release()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert len(stored(server.database)) == before + 5
    with clinic.doctor() as doctor:
        assert doctor.outbox.counts()["pending"] == 12  # never marked: the acknowledgement never arrived

    # The next sync (after the crash check of the store) sends all 12; the first 5 are replays.
    with clinic.doctor() as doctor:
        result = run_sync(direct(doctor), clinic.data_dir, batch_size=5, update_models=False,
                          retry=RetryPolicy(attempts=2, sleep=no_sleep))
        assert result.push.acknowledged == 12 and doctor.outbox.counts()["pending"] == 0
    held = stored(server.database)
    assert len(held) == before + 12 and expected_uuids(clinic) <= set(held)


def test_faults_and_a_server_restart_lose_and_duplicate_nothing(clinic: Clinic, answers: Any, server: Server,
                                                                 proxy: FaultProxy, start_server: Any) -> None:
    enrollment = enroll_clinic(clinic, proxy.url, server)
    close_encounters(clinic, answers, 60)
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, sleep=no_sleep)
    proxy.add(
        Fault("cut_request", FEEDBACK),  # batch 1, try 1: half a body reaches the server
        Fault("lose_response", FEEDBACK),  # batch 1, try 2: stored, answer lost
        Fault("status", FEEDBACK, 500),  # batch 1, try 3: retries spent -> the run stops, rows stay pending
        Fault("status", FEEDBACK, 503),  # next run, batch 1, try 1
        Fault("slow_response", FEEDBACK, 1.5),  # next run, batch 1, try 2: stored, but the client gave up at 0.5 s
        Fault("pass", FEEDBACK),  # batch 1, try 3: a replay, accepted
        Fault("pass", FEEDBACK),  # batch 2
        Fault("cut_response", FEEDBACK, 30),  # batch 3, try 1: the answer is cut inside its headers
        Fault("status", FEEDBACK, 502),  # batch 3, try 2
    )
    first = push_until_done(clinic, proxy.url, runs=1, batch_size=10, retry=retry, timeout=(1.0, 0.5))
    assert first[0].error is not None and first[0].error.code == "server_error" and first[0].acknowledged == 0
    # The second run gets through the faults; after its third batch the server goes away mid-sync.
    def stop_after_three(summary: Any) -> None:
        if summary.batches == 3:
            server.stop()

    more = push_until_done(clinic, proxy.url, runs=1, batch_size=10, retry=retry, timeout=(1.0, 0.5),
                           progress=stop_after_three)
    assert more[0].acknowledged == 30 and more[0].error is not None and more[0].error.code == "unreachable"
    # It comes back on another port; the client only knows the proxy's address.
    restarted = start_server(server.database)
    proxy.upstream_port = restarted.port
    rest = push_until_done(clinic, proxy.url, runs=4, batch_size=10, retry=retry, timeout=(1.0, 2.0))
    assert proxy.pending_faults() == 0

    with clinic.doctor() as doctor:
        assert doctor.outbox.counts() == {"pending": 0, "refused": 0, "sent": 60}
    held = {u for u, p in stored(restarted.database).items() if p["clinic_id"] == enrollment.clinic_id}
    assert expected_uuids(clinic) == held  # every closed encounter, each exactly once (uuid is unique)
    assert sum(s.acknowledged for s in first + more + rest) == 60
