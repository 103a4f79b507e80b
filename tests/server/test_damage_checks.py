"""What a damage report can make a server do: one full read of a digest at a time, and an
``intact`` answer remembered for a while (server/damage.py)."""

from __future__ import annotations

import threading

from cairn.engine.blobs_index import INTACT, MISSING
from cairn.server.damage import DamageChecks


def test_an_intact_answer_is_given_again_without_reading():
    checks, reads = DamageChecks(recheck_after=3600), []

    def read() -> str:
        reads.append(1)
        return INTACT

    assert [checks.check("blake3:aa", read) for _ in range(50)] == [INTACT] * 50
    assert len(reads) == 1
    assert checks.check("blake3:bb", read) == INTACT  # another digest is read
    assert len(reads) == 2


def test_after_the_window_the_object_is_read_again():
    checks, reads = DamageChecks(recheck_after=0), []
    for _ in range(3):
        checks.check("blake3:aa", lambda: reads.append(1) or INTACT)
    assert len(reads) == 3


def test_a_damaged_or_missing_answer_is_not_remembered():
    checks, reads = DamageChecks(recheck_after=3600), []
    for _ in range(3):
        assert checks.check("blake3:aa", lambda: reads.append(1) or MISSING) == MISSING
    assert len(reads) == 3


def test_concurrent_reports_of_one_digest_share_one_read():
    """While one report reads the object, others of the same digest wait for its answer:
    however the threads interleave, the object is read once."""
    checks, reads = DamageChecks(recheck_after=3600), []
    started, release = threading.Event(), threading.Event()

    def slow_read() -> str:
        reads.append(1)
        started.set()
        release.wait()
        return INTACT

    answers: list[str] = []
    first = threading.Thread(target=lambda: answers.append(checks.check("blake3:aa", slow_read)))
    first.start()
    started.wait()  # the first report is reading now
    others = [threading.Thread(target=lambda: answers.append(checks.check("blake3:aa", slow_read))) for _ in range(8)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join()
    assert answers == [INTACT] * 9 and len(reads) == 1


def test_a_failing_read_lets_the_next_report_read_again():
    checks, calls = DamageChecks(recheck_after=3600), []

    def broken() -> str:
        calls.append(1)
        raise OSError("store unavailable")

    for _ in range(2):
        try:
            checks.check("blake3:aa", broken)
        except OSError:
            pass
    assert len(calls) == 2
    assert checks.check("blake3:aa", lambda: INTACT) == INTACT
