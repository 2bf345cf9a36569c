"""Property: `vereda diagnose`, as a real process, exits 0 or 2 for any input whatever, and never shows a traceback
(issue 14.4). Hypothesis writes the bytes: JSON of any shape (huge integers, deep nesting, lone surrogates), the same
re-encoded as Latin-1 or UTF-16, and raw binary; given on standard input, with --input FILE, and many lines at once
with --batch (one bad line must not abort the file). Each process costs a second or two, so the runs are bounded;
the number of inputs is printed (pytest -s) for the issue's closing note.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.test_contract_properties import JSONISH

ROOT = Path(__file__).resolve().parents[1]
TRIED = {"processes": 0, "inputs": 0, "exit_0": 0, "exit_2": 0}


def _encoded(value: Any, encoding: str) -> bytes:
    text = json.dumps(value, ensure_ascii=encoding == "ascii", allow_nan=True)
    if encoding == "ascii":
        return text.encode("ascii")
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


def _deep(depth: int, opener: str) -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '"a":' if opener == "{" else ""
    return ((opener + inner) * depth + "1" + closer * depth).encode()


VALID = b'{"age": 40, "sex": "F", "symptoms": {"fiebre": 8, "tos": 6, "dolor_cabeza": 5}}'
PAYLOADS = st.one_of(
    st.just(VALID),
    st.builds(_encoded, JSONISH, st.sampled_from(["ascii", "utf-8", "latin-1", "utf-16"])),
    st.binary(max_size=300),
    st.builds(_deep, st.integers(1, 200_000), st.sampled_from(["[", "{"])),
    st.builds(lambda n: b'{"age": ' + b"9" * n + b', "sex": "F", "symptoms": {"fiebre": 5}}',
              st.integers(1, 5000)),
)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\nvereda diagnose, inputs tried: {TRIED}")


def _diagnose(args: list[str], stdin: bytes | None, bundle: Path) -> subprocess.CompletedProcess[bytes]:
    TRIED["processes"] += 1
    return subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--bundle", str(bundle), *args],
                          input=stdin, capture_output=True, timeout=120, cwd=ROOT, env=os.environ.copy())


def _holds(out: subprocess.CompletedProcess[bytes]) -> None:
    outcome = {0: "exit_0", 2: "exit_2"}.get(out.returncode, "exit_other")
    TRIED[outcome] = TRIED.get(outcome, 0) + 1
    stderr = out.stderr.decode("utf-8", "replace")
    assert out.returncode in (0, 2), stderr
    assert "Traceback" not in stderr and "Traceback" not in out.stdout.decode("utf-8", "replace")
    if out.returncode == 2 and stderr.strip():
        for line in stderr.strip().splitlines():
            assert json.loads(line)["error"]["code"]  # the documented error shape, line by line


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(payload=PAYLOADS, via_stdin=st.booleans())
def test_diagnose_exits_0_or_2_for_any_input(payload: bytes, via_stdin: bool, bundle_dir: Path,
                                             tmp_path: Path) -> None:
    TRIED["inputs"] += 1
    if via_stdin:
        out = _diagnose(["--input", "-"], payload, bundle_dir)
    else:
        request = tmp_path / "request.json"
        request.write_bytes(payload)
        out = _diagnose(["--input", str(request)], None, bundle_dir)
    _holds(out)


LINE = st.one_of(
    st.builds(_encoded, JSONISH, st.sampled_from(["ascii", "utf-8", "latin-1"])),
    st.binary(max_size=120),
    st.builds(_deep, st.integers(1, 50_000), st.sampled_from(["[", "{"])),
    st.just(VALID),
).map(lambda b: b.replace(b"\n", b" "))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, min_size=20, max_size=120))
def test_a_batch_of_any_lines_answers_every_line_and_exits_0_or_2(lines: list[bytes], bundle_dir: Path,
                                                                  tmp_path: Path) -> None:
    TRIED["inputs"] += len(lines)
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b"\n".join(lines))
    out = _diagnose(["--batch", str(batch)], None, bundle_dir)
    _holds(out)
    answered = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(answered) == sum(1 for line in lines if line.strip()), "one answer per non-empty line, in order"
