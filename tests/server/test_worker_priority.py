"""A replica's worker threads run below its event loop's CPU priority (server/priority.py),
so that on a busy host /api/health and new requests get a core before heavy work does.
Checked on the threads themselves (their nice values), not on timings; the effect on
/api/health is measured by bench/health_latency.py (bench/RESULTS.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from servers import cairn_server
from services import server_pid

from cairn.cli.main import main as cli
from cairn.server.priority import lower_worker_threads


def nice_of_new_thread() -> int:
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    t.start()
    t.join()
    return seen[0]


@pytest.fixture
def restore_trace():  # noqa: ANN201
    before = threading.gettrace()
    yield
    threading.settrace(before)  # threads of later tests start as they did


def test_new_threads_run_below_the_thread_that_asked(restore_trace) -> None:
    me = threading.get_native_id()
    base = os.getpriority(os.PRIO_PROCESS, me)
    traced: list[str] = []

    def tracer(frame, event, arg):  # noqa: ANN001, ANN202
        traced.append(frame.f_code.co_name)

    threading.settrace(tracer)  # a debugger's or coverage's, set before
    assert lower_worker_threads(3)
    assert nice_of_new_thread() == min(19, base + 3)
    assert os.getpriority(os.PRIO_PROCESS, me) == base  # the event loop's thread keeps its own
    assert "run" in traced  # the earlier trace function still sees the new thread


def test_workers_follow_the_loop_when_it_is_reniced(restore_trace) -> None:
    """An operator's renice of the loop after start-up moves new workers with it."""
    seen: list[int] = []

    def loop() -> None:  # a thread of its own as the "event loop": the test's keeps its priority
        me = threading.get_native_id()
        base = os.getpriority(os.PRIO_PROCESS, me)
        assert lower_worker_threads(3)
        os.setpriority(os.PRIO_PROCESS, me, min(19, base + 2))  # lowering needs no privilege
        seen.extend([os.getpriority(os.PRIO_PROCESS, me), nice_of_new_thread()])

    t = threading.Thread(target=loop)
    t.start()
    t.join()
    assert seen[1] == min(19, seen[0] + 3)


def test_zero_leaves_threads_alone(restore_trace) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert not lower_worker_threads(0)
    assert nice_of_new_thread() == base


def nices(pid: int) -> dict[int, int]:
    """{thread id: nice} of a process, from /proc (field 19 of a task's stat)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        out[int(tid)] = int(stat.rpartition(")")[2].split()[16])
    return out


@pytest.mark.parametrize("step", [None, "0", "7"])
def test_a_replica_serves_from_its_event_loop_above_its_workers(tmp_path: Path, step: str | None) -> None:
    env = {"CAIRN_DIR": str(tmp_path / "home")}
    args = () if step is None else ("--worker-nice", step)
    with cairn_server(tmp_path / "srv", env, "--no-ui", *args) as url:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        for _ in range(3):  # routes declared with def run in worker threads
            assert httpx.get(f"{url}/api/v1/projects", timeout=30).status_code == 200
        threads = nices(pid)
    loop = threads.pop(pid)  # uvicorn runs the event loop on the main thread
    want = loop + (5 if step is None else int(step))
    assert threads and set(threads.values()) == {min(19, want)}


def test_a_worker_nice_out_of_range_is_refused() -> None:
    r = CliRunner().invoke(cli, ["server", "--worker-nice", "20"])
    assert r.exit_code == 2
    assert "--worker-nice" in r.output and "0<=x<=19" in r.output
