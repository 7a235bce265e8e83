"""CPU time each server spends on a turn, while a command plays conversations against it.

    python3 -m bench.cpu run/rasa.pid run/actions.pid -- python3 score.py --data dev.jsonl ...

Runs the command, passes its output through, and reads the number of turns from its
`SUMMARY turns=N` line. CPU time (user + system) is read from /proc/<pid>/stat before and
after, for each pid file's process and its children (Rasa's workers), and for PostgreSQL's
processes. Latency under load depends on the machine; CPU a turn is what a change moves.
Standard library only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.memory import tree

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # gone since it was listed
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def postgres_pids() -> list[int]:
    # Taken before the run: Rasa's connections already exist once it has answered a message.
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "postgres"]


def _comm(path: Path) -> str:
    try:
        return (path / "comm").read_text().strip()
    except OSError:
        return ""


def snapshot(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    pid_files, command = argv[:split], argv[split + 1 :]
    groups = {Path(f).stem: tree(int(Path(f).read_text())) for f in pid_files}
    groups["postgres"] = postgres_pids()
    before = snapshot(groups)
    run = subprocess.run(command, capture_output=True, text=True)
    after = snapshot(groups)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    turns = re.search(r"SUMMARY turns=(\d+)", run.stdout)
    if run.returncode or not turns:
        return run.returncode or 1
    n = int(turns.group(1))
    spent = {
        name: sum(after[name][pid] - before[name].get(pid, 0.0) for pid in after[name]) * 1000 / n
        for name in groups
    }
    print("CPU a turn: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in spent.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
