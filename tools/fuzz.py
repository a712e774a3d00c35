"""Fuzz the JSON API with schemathesis against a served console: ``python tools/fuzz.py``.

The console is ``manage.py serve`` in a temporary directory (``bench._common``'s
``ServedConsole``): the embedded default, or production mode when ``DATABASE_URL`` and
``REDIS_URL`` are set (that database is made afresh, that Redis database emptied).
schemathesis reads ``/api/v1/openapi.json`` and sends generated requests (valid and
invalid) to every operation, once with an admin's token and once with a viewer's, and
checks each answer: no 5xx, the status code and the body as the schema documents them.
After the run the console's log must hold no error either (a job that failed on what
the fuzzer stored counts). Exit status 1 on any finding.

Traffic stays on loopback: the operations that make the console connect to an address
the caller chooses (creating or changing a channel or a service endpoint) are left out,
and the console starts with no service endpoint, so no probe, delivery or recovery
webhook can reach anything but this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import ServedConsole, pg_recreate  # noqa: E402

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
# The operations whose input names a host the console would then connect to.
OUTBOUND = [
    "notifications_api_create_channel",
    "notifications_api_update_channel",
    "healthchecks_api_create_service",
    "healthchecks_api_update_service",
]
MAKE_VIEWER = """
from django.contrib.auth.models import Group, User
from opsconsole.models import ApiToken
viewer, _ = User.objects.get_or_create(username="fuzz-viewer")
viewer.groups.add(Group.objects.get(name="Viewers"))
print(ApiToken.issue(user=viewer, name="fuzz", scopes=["read", "write", "ingest"])[1])
"""


def seed(console: ServedConsole, token: str) -> None:
    """One row of each kind that operations take by id, so that the fuzzer's ids (1 is
    its first boundary value) reach real rows, not only 404s. Nothing here connects
    anywhere: a dashboard channel publishes locally, a heartbeat is never probed."""
    import httpx

    now = datetime.now(UTC)
    with httpx.Client(
        base_url=f"{console.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as api:
        channel = api.post("/channels", json={"name": "fuzz-dashboard", "kind": "dashboard"})
        made = [
            channel,
            api.post(
                "/alerts",
                json={"alert_type": "fuzz_seed", "title": "Seeded", "severity": "critical"},
            ),
            api.post(
                "/silences",
                json={
                    "matchers": [{"field": "resource", "value": "nothing-here"}],
                    "ends_at": (now + timedelta(hours=1)).isoformat(),
                },
            ),
            api.post(f"/channels/{channel.json()['id']}/test"),
            api.post(
                "/services",
                json={"name": "fuzz-heartbeat", "kind": "heartbeat", "period_seconds": 60},
            ),
            api.post(
                "/routing-rules", json={"name": "fuzz-route", "channels": [channel.json()["id"]]}
            ),
        ]
    for response in made:
        response.raise_for_status()


def schemathesis() -> str:
    """The schemathesis command beside this Python (the dev dependencies), else on PATH."""
    beside = Path(sys.executable).parent / "st"
    found = str(beside) if beside.exists() else shutil.which("st")
    if found is None:
        sys.exit("schemathesis is not installed: pip install -e '.[dev]' (or make test)")
    return found


def production_env() -> dict[str, str]:
    """DATABASE_URL (made afresh) and REDIS_URL (emptied) from the environment, if set."""
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not database_url:
        return {}
    if not redis_url:
        sys.exit("DATABASE_URL needs REDIS_URL beside it (production mode)")
    import redis

    name = database_url.rsplit("/", 1)[1]
    pg_recreate(name, admin_url=database_url.rsplit("/", 1)[0] + "/postgres")
    redis.Redis.from_url(redis_url).flushdb()
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "Q_BROKER": "redis"}


def fuzz(console: ServedConsole, role: str, token: str, args, report: Path) -> int:
    command = [
        schemathesis(),
        "run",
        f"{console.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report / f"{role}.xml"),
    ]
    for operation in OUTBOUND:
        command += ["--exclude-operation-id", operation]
    print(f"\n--- schemathesis as {role} ({console.url})", flush=True)
    started = time.monotonic()
    # In the report folder: schemathesis keeps its example database where it runs.
    returncode = subprocess.run(command, cwd=report, check=False).returncode
    print(f"--- {role}: exit {returncode} in {time.monotonic() - started:.0f} s", flush=True)
    return returncode


def errors_logged(log: str) -> list[str]:
    """Each error the console logged (a 500, a job that failed), shortened; a refused
    request's warning does not count, even with a traceback attached."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if line.startswith("Traceback (most recent call last)"):
                found.append(line)
            continue
        if isinstance(entry, dict) and entry.get("level") in {"error", "critical"}:
            trace = [
                step.strip()
                for step in entry.get("exception", "").splitlines()
                if step.strip().startswith("File") and "site-packages" not in step
            ]
            last = entry.get("exception", "").strip().splitlines()[-1:] or [""]
            found.append("\n  ".join([entry.get("event", ""), *trace[-3:], last[0]]))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples", type=int, default=12, help="test cases per operation and phase"
    )
    parser.add_argument("--seed", type=int, default=14, help="schemathesis' random seed")
    parser.add_argument("--port", type=int, default=0, help="the console's (default: a free one)")
    args = parser.parse_args(argv)
    mode = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    report = ROOT / "var" / "fuzz" / mode
    report.mkdir(parents=True, exist_ok=True)
    # Nothing to reach outside: no endpoints to probe, no Sentry, no Prometheus to query.
    quiet = {"SERVICE_ENDPOINTS": "", "SENTRY_DSN": "", "PROMETHEUS_URL": "", "LOG_LEVEL": "INFO"}
    console = ServedConsole(args.port, **quiet, **production_env())
    failed = False
    try:
        admin = console.manage(
            "create_api_token", "--user", "admin", "--scopes", "read,write,ingest"
        ).strip()
        viewer = console.manage("shell", "-c", MAKE_VIEWER).strip().splitlines()[-1]
        seed(console, admin)
        # The viewer first, while the seeded rows are there; the admin deletes some.
        for role, token in (("viewer", viewer), ("admin", admin)):
            failed |= fuzz(console, role, token, args, report) != 0
    finally:
        console.stop()
        log = console.log_path.read_text(errors="replace")
        shutil.copy(console.log_path, report / "serve.log")
        console.remove()
    found = errors_logged(log)
    for excerpt in found:
        print(f"\n--- an error in the console's log:\n{excerpt}", flush=True)
    failed |= bool(found)
    print(f"\nfuzz on {mode}: {'FAILED' if failed else 'ok'} (reports in {report})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
