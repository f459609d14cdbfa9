"""A progress bar on stderr for long loops (Monte Carlo nulls, chunks of a file): tqdm's, when tqdm
is installed and stderr is a terminal, and only once the loop has run ``DELAY`` seconds, so that
short runs print nothing. Without tqdm, or off a terminal, it does nothing."""

from __future__ import annotations

import importlib
import sys
from typing import Any

DELAY = 2.0  # seconds before the bar shows


class Progress:
    """``update(n)`` as steps finish; ``close()`` at the end (a ``with`` block closes it, also on
    KeyboardInterrupt)."""

    def __init__(self, total: int, description: str, unit: str, enabled: bool = True) -> None:
        self.bar: Any = None
        if not enabled:
            return
        try:
            tqdm = importlib.import_module("tqdm").tqdm  # untyped, and optional
        except ImportError:
            return
        # disable=None: no bar (and no residue) when stderr is not a terminal.
        self.bar = tqdm(total=total, unit=unit, file=sys.stderr, delay=DELAY, desc=description, disable=None)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
