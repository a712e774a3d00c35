"""The process supervisor behind ``manage.py serve``, using the standard library only.

``serve`` checks the address, migrates and creates the admin, then replaces itself with
this module (``os.execv``), so the process that merely watches the others does not
keep a whole Django application in memory. It starts daphne (which also runs the
ticker, see ``opsconsole.apps``) and the django-q2 cluster, each in its own session so
the terminal's Ctrl-C reaches only the supervisor; restarts a child that dies, with a
backoff, giving up if it keeps dying; and on Ctrl-C or SIGTERM stops them in order,
web then workers, waiting for each before killing what is left.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

STOP_TIMEOUT = 15.0
MAX_RESTARTS_PER_MINUTE = 3


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        env = {**os.environ, "OPSCONSOLE_PROCESS": self.name, **self.env}
        # glibc gives each thread its own malloc arena; daphne's thread pool would keep
        # several mostly empty ones resident.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)
        self.started.append(time.monotonic())

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float) -> None:
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        # Also reaches grandchildren (q2's worker processes) left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def children(args) -> list[Child]:
    web = Child(
        "web",
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            args.host,
            "-p",
            str(args.port),
            "--access-log",
            os.path.join(args.log_dir, "access.log"),
            "--proxy-headers",
            "opsconsole.asgi:application",
        ],
        # The ticker only enqueues; it runs as a thread of the web process rather
        # than as a Django process of its own.
        env={"OPSCONSOLE_TICKER_THREAD": "0" if args.no_ticker or args.no_workers else "1"},
    )
    made = [web]
    if not args.no_workers:
        made.append(Child("worker", [sys.executable, args.manage, "qcluster"]))
    return made


def supervise(made: list[Child], banner: str) -> int:
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in made:
        child.start()
    print(banner, flush=True)
    exit_code = 0
    try:
        while not stopping:
            time.sleep(0.5)
            for child in made:
                if stopping or child.running():
                    continue
                code = child.process.returncode
                now = time.monotonic()
                recent = [t for t in child.started if now - t < 60]
                if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                    print(
                        f"{child.name} exited with {code} {len(recent)} times within a minute; "
                        "stopping the console",
                        file=sys.stderr,
                        flush=True,
                    )
                    exit_code = 1
                    stopping = True
                    break
                print(
                    f"{child.name} exited with {code}; restarting it", file=sys.stderr, flush=True
                )
                time.sleep(len(recent))
                child.start()
    finally:
        for name in ("web", "worker"):
            for child in made:
                if child.name == name:
                    child.stop(STOP_TIMEOUT)
        print("OpsConsole stopped.", flush=True)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opsconsole.supervisor")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--manage", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--no-workers", action="store_true")
    parser.add_argument("--no-ticker", action="store_true")
    parser.add_argument("--banner", default="OpsConsole is serving")
    args = parser.parse_args(argv)
    code = supervise(children(args), args.banner)
    if code:
        print("opsconsole: a process kept failing; see the messages above", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
