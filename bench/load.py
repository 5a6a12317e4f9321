"""How busy the machine was while a section ran (other processes skew every timing).

Reads /proc/stat (all CPU time on the machine) and this process's own
rusage (itself + waited-for children): what is left over was used by other
processes. Reported per section so a noisy figure can be recognised as such.
"""
from __future__ import annotations

import os
import resource
import time


def _machine_busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    vals = [int(v) for v in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    busy = sum(vals[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class LoadMeter:
    """with LoadMeter() as m: ...; m.result -> loadavg and CPU used by others (in cores)."""

    def __enter__(self) -> LoadMeter:
        self.t = time.perf_counter()
        self.busy = _machine_busy_seconds()
        self.own = _own_seconds()
        self.load1 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc) -> None:
        wall = max(time.perf_counter() - self.t, 1e-9)
        busy = _machine_busy_seconds()
        own = _own_seconds() - self.own
        others = None if busy is None or self.busy is None else max(0.0, (busy - self.busy) - own) / wall
        self.result = {
            "seconds": wall,
            "loadavg_1min_start": round(self.load1, 2),
            "loadavg_1min_end": round(os.getloadavg()[0], 2),
            "own_cores": round(own / wall, 2),
            "other_processes_cores": None if others is None else round(others, 2),
        }
