"""Import TensorFlow quietly.

TensorFlow 2.21 logs oneDNN and CUDA notices through absl before any log level applies, so
TF_CPP_MIN_LOG_LEVEL alone does not silence them; we point fd 2 at /dev/null just for the import.
"""

from __future__ import annotations

import os
import sys
import threading

_lock = threading.Lock()
_imported = False


def quiet_import_tensorflow(without_sklearn: bool = False) -> None:
    """Import tensorflow and keras once per process with native stderr muted.

    `without_sklearn`: Keras imports scikit-learn (and SciPy) only for its scikit-learn wrappers, and it copes when
    that import fails. A training worker never uses them, so it passes True and starts sooner
    (docs/performance.md); a later `import sklearn` in the same process still works. Not for the server, whose
    other threads may import scikit-learn meanwhile.
    """
    global _imported
    if _imported:
        return
    with _lock:
        if _imported:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        hide = without_sklearn and "sklearn" not in sys.modules
        if hide:
            sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` raise ImportError
        try:
            os.dup2(devnull, 2)
            import keras  # noqa: F401
            import tensorflow as tf  # noqa: F401
        finally:
            if hide and sys.modules.get("sklearn", 0) is None:
                del sys.modules["sklearn"]
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
        import logging

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        _imported = True
