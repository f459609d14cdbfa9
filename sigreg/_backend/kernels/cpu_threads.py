"""The threads that run the Numba kernels' tasks: the calling thread and a few workers that sleep.

A kernel call is a list of independent tasks (``numba_ecf``). The calling thread and up to
``threads() - 1`` daemon workers claim them in chunks from a shared counter and run each chunk
in a compiled function that releases the GIL (``nogil``); the call returns when every task is
done. Why not Numba's ``parallel=True``:

* Idle workers wait on a queue: they never spin. Numba's OpenMP layer (the default without TBB)
  spins its threads for a while after each parallel region, and so does PyTorch's intra-op
  pool; with two runtimes in one process (Numba's wheel links the system's libgomp, PyTorch
  its own copy) each one's spinning threads took the cores from the other's on a busy machine.
* Tasks are claimed, not split in advance: a worker that the OS takes off its core (other jobs
  on the machine) holds up only the chunk it is on; the other threads take the rest.
* Nothing to load: no threading layer can fail (``NUMBA_THREADING_LAYER`` is not read), and a
  forked child starts its own workers (Numba's OpenMP layer terminates a forked child).
* ``parallel=True`` was most of the cold compile (docs/benchmark.md: the first-call tables before
  and after).

Results never depend on the thread count or on which thread ran a task: each task writes its
own outputs.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["run", "threads"]

# Chunks per thread: small enough that a thread held off its core leaves little behind, large
# enough that claiming (a lock and a call from Python, a few microseconds) stays negligible.
_CHUNKS_PER_THREAD = 4


def threads() -> int:
    """Threads per kernel call: ``NUMBA_NUM_THREADS`` (Numba's variable; by default the CPUs
    this process may run on)."""
    configured = os.environ.get("NUMBA_NUM_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Job:
    """One kernel call: tasks ``0 .. tasks - 1`` run by ``kernel(*args, first, stop)`` in chunks."""

    def __init__(self, kernel: Callable[..., None], args: tuple[Any, ...], tasks: int, chunk: int) -> None:
        self.kernel, self.args, self.tasks, self.chunk = kernel, args, tasks, chunk
        self.lock = threading.Lock()
        self.claimed = 0
        self.finished = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        while True:
            with self.lock:
                first = self.claimed
                if first >= self.tasks:
                    return
                stop = self.claimed = min(first + self.chunk, self.tasks)
            try:
                self.kernel(*self.args, first, stop)
            except BaseException as error:  # handed to the calling thread
                self.error = error
            with self.lock:
                self.finished += stop - first
                if self.finished == self.tasks:
                    self.done.set()


class _Workers:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.count = 0
        self.lock = threading.Lock()

    def offer(self, job: _Job, helpers: int) -> None:
        with self.lock:
            while self.count < helpers:
                threading.Thread(target=self._serve, name="sigreg-kernels", daemon=True).start()
                self.count += 1
        for _ in range(helpers):
            self.jobs.put(job)

    def _serve(self) -> None:
        while True:
            self.jobs.get().work()


_workers = _Workers()


def _start_afresh() -> None:
    global _workers
    _workers = _Workers()  # a forked child has none of its parent's threads


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_start_afresh)


def run(
    kernel: Callable[..., None], args: tuple[Any, ...], tasks: int, num_threads: int | None = None
) -> None:
    """``kernel(*args, first, stop)`` over chunks of ``range(tasks)``, on up to ``num_threads``
    threads (default :func:`threads`); returns when all are done, raises what a chunk raised."""
    count = min(num_threads or threads(), tasks)
    if count <= 1:
        kernel(*args, 0, tasks)
        return
    job = _Job(kernel, args, tasks, max(1, tasks // (count * _CHUNKS_PER_THREAD)))
    _workers.offer(job, count - 1)
    job.work()  # the calling thread takes chunks too: the call finishes even if every worker is busy
    job.done.wait()
    if job.error is not None:
        raise job.error
