"""Resident memory of a server and its worker processes.

    python3 -m bench.memory run/rasa.pid

Rasa with `SANIC_WORKERS` > 1 is a parent and forked workers that share pages, so the sum
of RSS counts shared pages once per process; PSS (proportional set size, from
/proc/<pid>/smaps_rollup) splits each shared page between its users and adds up to what
the processes really take. Both are printed. Standard library only.
"""

from __future__ import annotations

import sys
from pathlib import Path


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return pids


def _field_kb(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def memory_mb(pid: int) -> dict[str, float]:
    pids = tree(pid)
    rss = sum(_field_kb(Path(f"/proc/{p}/status"), "VmRSS") for p in pids)
    pss = sum(_field_kb(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in pids)
    return {"processes": len(pids), "rss_mb": round(rss / 1024), "pss_mb": round(pss / 1024)}


def main(argv: list[str]) -> int:
    pid = int(Path(argv[1]).read_text().strip()) if not argv[1].isdigit() else int(argv[1])
    m = memory_mb(pid)
    print(f"{m['processes']} processes: PSS {m['pss_mb']} MB (RSS summed {m['rss_mb']} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
