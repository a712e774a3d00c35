"""psutil sampling of one host: vitals and the top-N process inventory.

A collection needs the previous counters to turn cumulative figures (CPU times, disk
and network bytes, per-process CPU) into rates. The same ``Collector`` runs in the
console's q2 workers, which are separate processes, and in the agent, so its state
is a plain dict the caller keeps: the worker stores it in the cache between runs.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psutil

from metrics.catalog import series_key
from opsconsole.scrubbing import Scrubber, secret_values

# Filesystems that are not real storage; their usage would only add noise.
_PSEUDO_FS = {
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "securityfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "fuse.lxcfs",
}


@dataclass
class ProcessRecord:
    pid: int
    name: str
    username: str
    status: str
    cpu_percent: float
    memory_percent: float
    rss_bytes: int
    num_threads: int | None
    read_bytes_per_second: float | None
    write_bytes_per_second: float | None
    cmdline: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Collection:
    hostname: str
    time: datetime
    values: dict[str, float]
    processes: list[ProcessRecord] = field(default_factory=list)
    host_info: dict = field(default_factory=dict)


def host_info() -> dict:
    return {
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpu_count": psutil.cpu_count() or 0,
        "memory_total_bytes": psutil.virtual_memory().total,
        "boot_time": datetime.fromtimestamp(psutil.boot_time(), tz=UTC).isoformat(),
    }


class Collector:
    """Samples this host. ``state`` carries counters from the previous run."""

    def __init__(self, *, hostname: str | None = None, top_n: int = 10, state: dict | None = None):
        self.hostname = hostname or socket.gethostname()
        self.top_n = top_n
        self.state: dict = state or {}

    def collect(self, *, processes: bool = True) -> Collection:
        started_wall = time.perf_counter()
        started_cpu = time.process_time()
        now = time.time()
        previous_time = self.state.get("time")
        elapsed = (now - previous_time) if previous_time else None
        values: dict[str, float] = {}
        self._cpu(values)
        self._memory(values)
        self._disks(values, elapsed)
        self._network(values, elapsed)
        records: list[ProcessRecord] = []
        if processes:
            records = self._processes(values, elapsed)
        self.state["time"] = now
        values["collector_duration_ms"] = (time.perf_counter() - started_wall) * 1000
        values["collector_cpu_ms"] = (time.process_time() - started_cpu) * 1000
        return Collection(
            hostname=self.hostname,
            time=datetime.fromtimestamp(now, tz=UTC),
            values=values,
            processes=records,
        )

    # -- vitals ---------------------------------------------------------------------------
    def _cpu(self, values: dict[str, float]) -> None:
        per_core = psutil.cpu_times(percpu=True)
        previous = self.state.get("cpu")
        current = [_busy_idle(times) for times in per_core]
        self.state["cpu"] = current
        if previous and len(previous) == len(current):
            busy_total = idle_total = iowait_total = 0.0
            for index, ((busy, idle, iowait), (old_busy, old_idle, old_iowait)) in enumerate(
                zip(current, previous, strict=True)
            ):
                busy_delta, idle_delta = busy - old_busy, idle - old_idle
                busy_total += busy_delta
                idle_total += idle_delta
                iowait_total += iowait - old_iowait
                values[series_key("cpu_core_usage_percent", {"core": str(index)})] = _percent(
                    busy_delta, busy_delta + idle_delta
                )
            values["cpu_usage_percent"] = _percent(busy_total, busy_total + idle_total)
            values["cpu_iowait_percent"] = _percent(iowait_total, busy_total + idle_total)
        else:
            # First run: no interval to measure over; a short blocking sample instead.
            overall = psutil.cpu_percent(interval=0.1, percpu=True)
            for index, percent in enumerate(overall):
                values[series_key("cpu_core_usage_percent", {"core": str(index)})] = percent
            values["cpu_usage_percent"] = sum(overall) / max(len(overall), 1)
        load1, load5, load15 = os.getloadavg()
        values["load_1m"], values["load_5m"], values["load_15m"] = load1, load5, load15

    def _memory(self, values: dict[str, float]) -> None:
        memory = psutil.virtual_memory()
        values["memory_usage_percent"] = memory.percent
        values["memory_used_bytes"] = float(memory.total - memory.available)
        values["memory_available_bytes"] = float(memory.available)
        values["memory_total_bytes"] = float(memory.total)
        swap = psutil.swap_memory()
        values["swap_usage_percent"] = swap.percent
        values["swap_used_bytes"] = float(swap.used)

    def _disks(self, values: dict[str, float], elapsed: float | None) -> None:
        seen_devices: set[str] = set()
        for partition in psutil.disk_partitions(all=False):
            if partition.fstype in _PSEUDO_FS or partition.device in seen_devices:
                continue
            seen_devices.add(partition.device)
            try:
                usage = psutil.disk_usage(partition.mountpoint)
            except OSError:
                continue
            labels = {"mount": partition.mountpoint}
            values[series_key("disk_usage_percent", labels)] = usage.percent
            values[series_key("disk_used_bytes", labels)] = float(usage.used)
            values[series_key("disk_free_bytes", labels)] = float(usage.free)
        counters = psutil.disk_io_counters(perdisk=False)
        if counters is None:
            return
        current = [
            counters.read_bytes,
            counters.write_bytes,
            counters.read_count,
            counters.write_count,
        ]
        rates = self._rates("disk", current, elapsed)
        if rates:
            (
                values["disk_read_bytes_per_second"],
                values["disk_write_bytes_per_second"],
                values["disk_read_ops_per_second"],
                values["disk_write_ops_per_second"],
            ) = rates

    def _network(self, values: dict[str, float], elapsed: float | None) -> None:
        # Loopback traffic never leaves the host and would count every byte twice (once
        # sent, once received), so it is left out.
        nics = [c for name, c in psutil.net_io_counters(pernic=True).items() if name != "lo"]
        current = [
            sum(c.bytes_sent for c in nics),
            sum(c.bytes_recv for c in nics),
            sum(c.errin + c.errout + c.dropin + c.dropout for c in nics),
        ]
        rates = self._rates("net", current, elapsed)
        if rates:
            (
                values["network_sent_bytes_per_second"],
                values["network_received_bytes_per_second"],
                values["network_errors_per_second"],
            ) = rates

    def _rates(self, name: str, current: list[int], elapsed: float | None) -> list[float] | None:
        previous = self.state.get(name)
        self.state[name] = current
        if not previous or not elapsed or elapsed <= 0 or len(previous) != len(current):
            return None
        # A counter that went backwards was reset (reboot, device swap): no rate this time.
        if any(new < old for new, old in zip(current, previous, strict=True)):
            return None
        return [(new - old) / elapsed for new, old in zip(current, previous, strict=True)]

    # -- processes ------------------------------------------------------------------------
    def _processes(self, values: dict[str, float], elapsed: float | None) -> list[ProcessRecord]:
        """Top N by CPU and top N by memory, read cheaply.

        Every process costs one oneshot() read of /proc/<pid>/stat and statm; the
        expensive fields (user, I/O, command line) are read for the chosen few only.
        """
        previous: dict[str, list[float]] = self.state.get("proc", {})
        current: dict[str, list[float]] = {}
        rows = []
        zombies = 0
        total_memory = psutil.virtual_memory().total or 1
        for process in psutil.process_iter(["status"]):
            try:
                with process.oneshot():
                    status = process.info["status"]
                    if status == psutil.STATUS_ZOMBIE:
                        zombies += 1
                        continue
                    cpu = process.cpu_times()
                    memory = process.memory_info()
                    created = process.create_time()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            key = str(process.pid)
            used = cpu.user + cpu.system
            current[key] = [created, used]
            old = previous.get(key)
            if old and old[0] == created and elapsed:
                cpu_percent = max(0.0, (used - old[1]) / elapsed * 100)
            else:
                cpu_percent = 0.0
            rows.append((process, status, cpu_percent, memory.rss))
        self.state["proc"] = current
        values["process_count"] = float(len(rows) + zombies)
        values["zombie_process_count"] = float(zombies)

        chosen: dict[int, tuple] = {}
        for row in sorted(rows, key=lambda r: r[2], reverse=True)[: self.top_n]:
            chosen[row[0].pid] = row
        for row in sorted(rows, key=lambda r: r[3], reverse=True)[: self.top_n]:
            chosen[row[0].pid] = row

        previous_io: dict[str, list[float]] = self.state.get("proc_io", {})
        current_io: dict[str, list[float]] = {}
        records = []
        scrubber = Scrubber(secret_values())
        for process, status, cpu_percent, rss in chosen.values():
            detail = _process_detail(process, scrubber)
            if detail is None:
                continue
            read_rate = write_rate = None
            io = detail.pop("io")
            if io is not None:
                key = str(process.pid)
                current_io[key] = io
                old = previous_io.get(key)
                if old and elapsed and io[0] >= old[0] and io[1] >= old[1]:
                    read_rate = (io[0] - old[0]) / elapsed
                    write_rate = (io[1] - old[1]) / elapsed
            records.append(
                ProcessRecord(
                    pid=process.pid,
                    status=status,
                    cpu_percent=round(cpu_percent, 2),
                    memory_percent=round(rss / total_memory * 100, 3),
                    rss_bytes=rss,
                    read_bytes_per_second=read_rate,
                    write_bytes_per_second=write_rate,
                    **detail,
                )
            )
        self.state["proc_io"] = current_io
        records.sort(key=lambda r: (r.cpu_percent, r.rss_bytes), reverse=True)
        return records


def _process_detail(process: psutil.Process, scrubber: Scrubber) -> dict | None:
    try:
        with process.oneshot():
            name = process.name()
            try:
                username = process.username()
            except (KeyError, psutil.AccessDenied):
                username = ""
            try:
                counters = process.io_counters()
                io = [float(counters.read_bytes), float(counters.write_bytes)]
            except (psutil.AccessDenied, AttributeError, NotImplementedError):
                io = None
            try:
                # Masked here, so an agent's batch (and its spool file) never holds a
                # password some process was started with; ingest masks again for
                # batches from elsewhere.
                cmdline = scrubber.command_line(" ".join(process.cmdline()))
            except psutil.AccessDenied:
                cmdline = ""
            threads = process.num_threads()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    return {
        "name": name[:255],
        "username": username[:64],
        "cmdline": cmdline[:512],
        "num_threads": threads,
        "io": io,
    }


def _busy_idle(times) -> tuple[float, float, float]:
    idle = times.idle + getattr(times, "iowait", 0.0)
    # guest time is already counted in user time on Linux.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - idle, idle, getattr(times, "iowait", 0.0)


def _percent(part: float, whole: float) -> float:
    if whole <= 0:
        return 0.0
    return round(max(0.0, min(100.0, part / whole * 100)), 2)
