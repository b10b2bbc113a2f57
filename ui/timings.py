"""Server time per call, for the benchmark: off (a plain call) unless $FMNIST_TIMINGS names a file."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from fmnist_core import settings


def timed(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append each call's server time to $FMNIST_TIMINGS (JSON lines), so the benchmark measures real reruns.

    Off (a plain call) unless the variable is set; the benchmark sets it on the server it starts.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            path = settings.timings_file()
            if not path:
                return fn(*args, **kwargs)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - started) * 1000
                with open(path, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"label": label, "ms": ms}) + "\n")

        return run

    return wrap
