"""fmnist_core.training.executors: a spawned worker does not run the server's main script (under `streamlit run`,
app.py is installed as __main__, and spawn would run it again in every worker, without Streamlit)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from helpers import PYTHON, REPO_ROOT

# A parent whose __main__ is a script with a side effect at its top level, as app.py is under `streamlit run`
# (Streamlit's fake __main__ has a __file__ and no __spec__, as a script run by `python script.py` has).
PARENT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path

    Path(sys.argv[1], f"ran-in-{os.getpid()}").touch()  # the side effect: each process running this file

    if __name__ == "__main__":
        from fmnist_core.training.executors import spawn_process

        process, conn = spawn_process(print, "child ran", name="probe")
        process.join(120)
        print("child exit code", process.exitcode)
        print("main module still", sys.modules["__main__"].__file__)
        print("parent", os.getpid())
    """
)


def test_a_spawned_worker_does_not_run_the_parents_main_script(tmp_path: Path) -> None:
    script = tmp_path / "app_like.py"
    script.write_text(PARENT)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.run(
        [PYTHON, str(script), str(marks)],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "child ran" in proc.stdout and "child exit code 0" in proc.stdout, proc.stdout + proc.stderr
    assert f"main module still {script}" in proc.stdout  # the parent's own __main__ is given back
    parent = proc.stdout.split("parent ")[-1].strip()
    assert sorted(mark.name for mark in marks.iterdir()) == [f"ran-in-{parent}"]  # not in the child
