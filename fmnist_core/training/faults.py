"""The one test hook: FMNIST_TEST_FAULT makes a training worker fail at a named point, so tests can watch it die.

Read from the server's environment (a browser cannot set it). Points: "at-batch" (after the first batch) and
"in-save" (before each saved file is renamed into place); what happens there: "abort-POINT" (os.abort),
"exit-POINT" (exit code 3), "hang-POINT" (a 120-s pause, so a test can kill the worker mid-save). Nothing here
patches the standard library; the store calls the hook it is given.
"""

from __future__ import annotations

import os
import time

from fmnist_core import settings


def at(point: str) -> None:
    """Abort, exit or hang here when FMNIST_TEST_FAULT asks for it; nothing otherwise."""
    fault = settings.test_fault()
    if fault == f"abort-{point}":
        os.abort()
    if fault == f"exit-{point}":
        os._exit(3)
    if fault == f"hang-{point}":
        time.sleep(120)
