"""GNU OpenMP's idle threads, made to sleep instead of spinning, without an environment variable.

PyTorch's CPU operations run on a GNU OpenMP (libgomp) team. With ``OMP_WAIT_POLICY`` unset, a
thread of that team that runs out of work spins for about 300,000 iterations (several
milliseconds) before it sleeps, hoping for the next parallel region. Between the operations of a
sigreg step (Python, the Numba kernels on their own threads) those threads spin, and on a busy
machine they take the cores from the threads that have work: measured, a torch step of sigreg
spent 1.4x the CPU time and up to 2.3x the wall time it took with ``OMP_WAIT_POLICY=passive``.

The policy is read once, when libgomp loads, and PyTorch is usually imported before sigreg. What
libgomp does at run time (its manual, ``GOMP_SPINCOUNT``): when it manages more threads than the
process has CPUs, a waiting thread spins 100 times instead of 300,000, then sleeps. :func:`calm`
starts one more libgomp thread, which sleeps from then on: a team that fills every CPU (PyTorch's
default) then counts one thread more than the CPUs, and its idle threads sleep at once, as
``passive`` would have them. A process whose OpenMP threads do not fill its CPUs
(``torch.set_num_threads`` below the CPU count) is left as it is: libgomp only throttles
oversubscribed teams. A user who sets ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` has chosen:
nothing is done. Nothing is done either where libgomp is not PyTorch's runtime (macOS, Windows).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path

__all__ = ["calm", "loaded_runtimes"]

_calmed: list[str] = []
_lock = threading.Lock()
_asked = False


def loaded_runtimes() -> list[str]:
    """Paths of the GNU OpenMP libraries mapped into this process (Linux; else none)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    found = [line.split()[-1] for line in maps.splitlines() if "/libgomp" in line]
    return list(dict.fromkeys(path for path in found if Path(path).name.startswith("libgomp")))


def calm() -> list[str]:
    """Once per process, after PyTorch is imported: one sleeping libgomp thread in each loaded
    libgomp, so that its idle threads sleep instead of spinning. Returns the libraries calmed."""
    global _asked
    if _asked or "torch" not in sys.modules:
        return _calmed
    with _lock:
        if _asked:
            return _calmed
        _asked = True
        if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
            return _calmed  # the user's choice stands
        for path in loaded_runtimes():
            if _add_sleeper(path):
                _calmed.append(path)
    return _calmed


def _add_sleeper(path: str) -> bool:
    """Start a team of two from a thread of our own: its second thread joins libgomp's count
    for good (the team's thread stays docked in that thread's pool, asleep)."""
    try:
        library = ctypes.CDLL(path)
        parallel = library.GOMP_parallel
        no_op = ctypes.cast(ctypes.CDLL(None).free, ctypes.c_void_p).value  # free(NULL) does nothing
    except (OSError, AttributeError):
        return False
    parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    parallel.restype = None
    started = threading.Event()

    def hold() -> None:
        parallel(no_op, None, 2, 0)
        started.set()
        threading.Event().wait()  # the team's pool lives as long as this thread

    threading.Thread(target=hold, name="sigreg-openmp", daemon=True).start()
    return started.wait(timeout=10)
