"""Where the test suite's CPU goes: run a command (the suite by default) and add up CPU-seconds by kind of process.

Usage: python -m bench.suite_cpu [--out bench/measured/suite-cpu.json] [--interval 1.0] [-- COMMAND ...]

The suite is CPU-bound on 2 cores, so its wall time is its CPU time over two; this says which processes to make
fewer or cheaper. Every `--interval` seconds it reads /proc/PID/stat of every process, keeps the last CPU time
(user + system) of each one descended from the command, and files each under a kind by its command line (KINDS).
A process that lives less than one interval, or whose parent ended before it was seen, may be missed, and the last
interval of each is not seen: the totals are a slight undercount. `busy_cpu_s` is the whole machine's (from
/proc/stat), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.browser import ROOT
from bench.limits import where_and_when

DEFAULT_OUT = ROOT / "bench" / "measured" / "suite-cpu.json"
SLOWEST = 20  # tests listed by wall time (pytest --durations), each with the reason in docs/performance.md
DEFAULT_COMMAND = [
    sys.executable,
    *("-m", "pytest", "-n", "2", "--dist", "loadfile", "--max-worker-restart=0", "-q", "-p", "no:cacheprovider"),
    f"--durations={SLOWEST}",
]
_DURATION = re.compile(r"^\s*([0-9.]+)s\s+(setup|call|teardown)\s+(\S+)")
# (kind, substrings of the command line, any of which files a process under it); the first match wins.
KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("training workers", ("multiprocessing.spawn import spawn_main",)),
    ("Chromium", ("/chromium",)),
    ("Streamlit servers", ("streamlit run",)),
    ("Ray", ("site-packages/ray/", "ray::", "/bin/ray ")),
    ("CLI and bench commands", ("-m fmnist_core", "-m bench")),
    # pytest itself, its xdist processes (execnet starts them with exec(eval(...))), and scripts a test wrote
    ("pytest and scripts the tests write", ("-m pytest", "exec(eval(sys.stdin.readline()))", "/pytest-of-")),
]
OTHER = "other"
_HZ = os.sysconf("SC_CLK_TCK")


def kind_of(cmdline: str) -> str:
    """The kind (KINDS) a process belongs to, from its command line (arguments joined by spaces); kernel threads
    (no command line) and anything else are OTHER."""
    return next((kind for kind, marks in KINDS if any(mark in cmdline for mark in marks)), OTHER)


def _busy_and_idle() -> tuple[float, float]:
    """The machine's CPU-seconds so far, busy (everything but idle and iowait) and idle, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / _HZ, idle / _HZ


class Sampler(threading.Thread):
    """Polls /proc for the processes descended from `root`; `seen` maps "pid:starttime" to [cpu seconds, command
    line]. Anything else on the machine (another person's work, a kernel thread) is left out."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval, self.seen, self._stop_event = interval, {}, threading.Event()
        self._ours, self._foreign = {root}, set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        new = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                rest = stat[stat.rindex(")") + 2 :].split()
                cpu, ppid = (int(rest[11]) + int(rest[12])) / _HZ, int(rest[1])
            except (OSError, ValueError, IndexError):  # it ended while we read it
                continue
            key = f"{entry.name}:{rest[19]}"
            if key in self.seen:
                self.seen[key][0] = cpu
            elif key not in self._foreign:
                new.append((int(entry.name), ppid, key, cpu))
        # A child may come before its parent in the listing: adopt in rounds until nothing changes.
        while True:
            adopted = [item for item in new if item[0] in self._ours or item[1] in self._ours]
            if not adopted:
                break
            for pid, _, key, cpu in adopted:
                try:
                    cmdline = Path("/proc", str(pid), "cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    cmdline = b""
                self.seen[key] = [cpu, cmdline.decode(errors="replace").strip()]
                self._ours.add(pid)
            new = [item for item in new if item not in adopted]
        self._foreign.update(key for _, _, key, _ in new)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


def measure(command: list[str], interval: float = 1.0) -> dict[str, Any]:
    """Run `command` from the repo root while sampling its process tree; the report (see the module docstring)."""
    report = where_and_when()
    baseline_busy, baseline_idle = _busy_and_idle()
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = Sampler(proc.pid, interval)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.monotonic() - started
    sampler.stop()
    busy, idle = _busy_and_idle()
    kinds: dict[str, dict[str, float]] = {}
    for cpu, cmdline in sampler.seen.values():
        if cpu <= 0:
            continue
        row = kinds.setdefault(kind_of(cmdline), {"cpu_s": 0.0, "processes": 0})
        row["cpu_s"] += cpu
        row["processes"] += 1
    tail = [line for line in output.splitlines() if line.strip()][-1:] or [""]
    slowest = [
        {"seconds": float(m.group(1)), "phase": m.group(2), "test": m.group(3)}
        for m in map(_DURATION.match, output.splitlines())
        if m
    ]
    return {
        **report,
        "command": command,
        "returncode": proc.returncode,
        "last_line": tail[0],
        "wall_s": round(wall, 1),
        "busy_cpu_s": round(busy - baseline_busy, 1),
        "idle_cpu_s": round(idle - baseline_idle, 1),
        "interval_s": interval,
        "slowest": slowest,
        "failed": [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))],
        "kinds": {
            kind: {"cpu_s": round(row["cpu_s"], 1), "processes": int(row["processes"])}
            for kind, row in sorted(kinds.items(), key=lambda item: -item[1]["cpu_s"])
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two reads of /proc")
    parser.add_argument("command", nargs="*", help="after --: the command to run (default: the suite as make test)")
    args = parser.parse_args(argv)
    report = measure(args.command or DEFAULT_COMMAND, args.interval)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['last_line']}\nwall {report['wall_s']} s, busy CPU {report['busy_cpu_s']} s")
    for kind, row in report["kinds"].items():
        print(f"  {row['cpu_s']:8.1f} CPU-s  {row['processes']:4d} processes  {kind}")
    for line in report["failed"]:
        print(f"  {line}")
    for row in report["slowest"]:
        print(f"  {row['seconds']:8.1f} s  {row['phase']:<8}  {row['test']}")
    return 0 if report["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
