"""The threads that run the Numba kernels' tasks (``sigreg._backend.kernels.cpu_threads``).

The kernel here is a Python function that records which tasks it ran and on which thread (it
sleeps a little, releasing the GIL as the compiled kernels do, so that the workers take part).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sigreg._backend.kernels import cpu_threads

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self, tag: int = 0, fail_at: int | None = None) -> None:
        self.ran: list[tuple[int, int, int]] = []
        self.lock = threading.Lock()
        self.tag, self.fail_at = tag, fail_at

    def __call__(self, tag: int, first: int, stop: int) -> None:
        assert tag == self.tag  # the call's own arguments, whichever thread runs the chunk
        time.sleep(0.002)
        if self.fail_at is not None and first <= self.fail_at < stop:
            raise FloatingPointError(f"task {self.fail_at}")
        with self.lock:
            self.ran.append((first, stop, threading.get_ident()))

    def tasks(self) -> list[int]:
        return sorted(t for first, stop, _ in self.ran for t in range(first, stop))

    def threads(self) -> set[int]:
        return {ident for _, _, ident in self.ran}


@pytest.mark.parametrize(("tasks", "threads"), [(1, 4), (7, 1), (7, 3), (100, 2), (100, 16)])
def test_every_task_runs_once(tasks, threads):
    kernel = Recorder()
    cpu_threads.run(kernel, (0,), tasks, num_threads=threads)
    assert kernel.tasks() == list(range(tasks))
    assert len(kernel.threads()) <= min(tasks, threads)


def test_the_calling_thread_and_workers_share_the_tasks():
    kernel = Recorder()
    cpu_threads.run(kernel, (0,), 64, num_threads=3)
    assert threading.get_ident() in kernel.threads()
    assert len(kernel.threads()) >= 2


def test_an_error_in_a_chunk_reaches_the_caller():
    kernel = Recorder(fail_at=37)
    with pytest.raises(FloatingPointError, match="task 37"):
        cpu_threads.run(kernel, (0,), 64, num_threads=3)
    kernel = Recorder()
    cpu_threads.run(kernel, (0,), 8, num_threads=3)  # and the workers still serve
    assert kernel.tasks() == list(range(8))


def test_callers_on_several_threads_each_get_all_their_tasks():
    kernels = [Recorder(tag=i) for i in range(4)]
    callers = [
        threading.Thread(target=cpu_threads.run, args=(kernel, (kernel.tag,), 40), kwargs={"num_threads": 3})
        for kernel in kernels
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=60)
    assert not any(caller.is_alive() for caller in callers)
    for kernel in kernels:
        assert kernel.tasks() == list(range(40))


def test_threads_follow_numba_num_threads(monkeypatch):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert cpu_threads.threads() == 3
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    assert cpu_threads.threads() == len(os.sched_getaffinity(0))


FORKED = """
import os, threading, time
from sigreg._backend.kernels import cpu_threads

seen = set()
def kernel(first, stop):
    time.sleep(0.002)
    seen.add(threading.get_ident())

cpu_threads.run(kernel, (), 32, num_threads=2)  # the parent's workers
pid = os.fork()
if pid == 0:
    seen.clear()
    cpu_threads.run(kernel, (), 64, num_threads=2)  # the child starts workers of its own
    os._exit(0 if len(seen) == 2 else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_runs_tasks_on_workers_of_its_own():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "0"
