"""Grouping in a storm: 1,000 alerts over 200 hosts within 10 s, through the API, to a
served console whose routing rule groups by rule (the defaults: group_wait 30 s,
group_interval 5 min).

``manage.py serve`` runs as a user starts it (SQLite, one q2 worker, the delivery
lane). Two channels (a webhook and a Slack incoming webhook) post to a loopback
receiver that notes when each message arrived. First a control: one alert of its own
rule, alone, on the quiet console; its first message's delay is the reference. Then
the storm: RULES alert types x HOSTS hosts, raised in STORM_SECONDS from four clients,
and WATCH seconds more, all inside the first group_interval.

Figures:
- messages per group per channel during the watch (the most of any group and
  channel) against the alerts in a group, what one message per alert would send
  (target: at most 2 per group, i.e. ratio <= 2 / alerts per group);
- the storm's slowest first message of a group (arrival minus the moment its group's
  first alert was answered) against the quiet control's first message, which waited
  the same group_wait (target: at most 5 s later, i.e. ratio <= (control + 5 s) /
  control).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ServedConsole
from bench_storm import Receiver

HOSTS = 200
RULES = 5
STORM_SECONDS = 10
GROUP_WAIT = 30
WATCH = GROUP_WAIT + 45
CLIENT_THREADS = 4
MAX_PER_GROUP = 2
MAX_LATE = 5.0


def _set_up(console: ServedConsole, receiver: Receiver) -> str:
    import httpx

    token = console.manage(
        "create_api_token", "--user", "admin", "--scopes", "read,write", "--name", "groups bench"
    ).strip()
    with httpx.Client(
        base_url=console.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        channels = []
        for kind, secrets in (
            ("webhook", {"url": f"{receiver.url}/webhook"}),
            ("slack", {"webhook_url": f"{receiver.url}/slack"}),
        ):
            answer = client.post(
                "/api/v1/channels",
                json={"name": f"bench {kind}", "kind": kind, "secrets": secrets},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"creating a channel: {answer.status_code} {answer.text}")
            channels.append(answer.json()["id"])
        answer = client.post(
            "/api/v1/routing-rules",
            json={
                "name": "bench: grouped by rule",
                "position": 0,
                "channels": channels,
                "group_by": ["rule"],
                "group_wait": GROUP_WAIT,
            },
        )
        if answer.status_code != 201:
            raise RuntimeError(f"creating the routing rule: {answer.status_code} {answer.text}")
    return token


def _raise(client, rule: str, host: str) -> float:
    answer = client.post(
        "/api/v1/alerts",
        json={
            "alert_type": rule,
            "title": f"{rule} - {host}",
            "message": "raised by the grouping benchmark",
            "severity": "error",
            "category": "system",
            "resource": host,
            "labels": {"host": host},
        },
    )
    if answer.status_code != 201:
        raise RuntimeError(f"raising an alert: {answer.status_code} {answer.text[:200]}")
    return time.time()


def _storm(console: ServedConsole, token: str) -> tuple[dict[str, float], int, float]:
    """Raise every (rule, host) alert on a schedule over STORM_SECONDS; returns the
    first answer per rule, the failures and how long it took."""
    import httpx

    jobs = [(f"bench_rule_{r}", f"host-{h:03d}") for h in range(HOSTS) for r in range(RULES)]
    first: dict[str, float] = {}
    failures = 0
    lock = threading.Lock()
    counter = iter(range(len(jobs)))
    started = time.monotonic()

    def loop():
        nonlocal failures
        with httpx.Client(
            base_url=console.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                time.sleep(max(0.0, started + index * STORM_SECONDS / len(jobs) - time.monotonic()))
                rule, host = jobs[index]
                try:
                    answered = _raise(client, rule, host)
                except (httpx.HTTPError, RuntimeError):
                    with lock:
                        failures += 1
                    continue
                with lock:
                    first[rule] = min(first.get(rule, answered), answered)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return first, failures, time.monotonic() - started


def _rule_of(document: dict) -> str:
    """Which alert type a message is about (the storm's types are distinct words)."""
    text = json.dumps(document)
    names = [name for name in ("bench_control", *(f"bench_rule_{r}" for r in range(RULES)))]
    return next((name for name in names if name in text), "")


def run():
    import httpx
    from run import Result

    receiver = Receiver(0.0)
    console = ServedConsole(NOTIFY_ALLOWED_HOSTS="127.0.0.1")
    try:
        token = _set_up(console, receiver)
        with httpx.Client(
            base_url=console.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            control_at = _raise(client, "bench_control", "control-host")
        deadline = time.time() + GROUP_WAIT + 60
        while time.time() < deadline and not receiver.snapshot():
            time.sleep(0.2)
        got = receiver.snapshot()
        if not got:
            raise RuntimeError(f"the control alert's message never arrived:\n{console.log_tail()}")
        control = got[0][0] - control_at
        before = len(got)

        first, failures, took = _storm(console, token)
        watch_end = time.time() + WATCH
        while time.time() < watch_end:
            time.sleep(1)
        storm = receiver.snapshot()[before:]
    finally:
        console.stop()
        receiver.stop()
        console.remove()

    # The receiver notes no path; the two channels are told apart by their shape.
    per_group = Counter(
        ("slack" if "blocks" in document else "webhook", _rule_of(document))
        for _at, document in storm
        if _rule_of(document) in first
    )
    # The console's own alerts (a slow pass, a backlog) go through the same rule.
    others = [
        (document.get("alert") or {}).get("title") or document.get("text", "")[:80]
        for _at, document in storm
        if _rule_of(document) not in first
    ]
    worst = max(per_group.values(), default=0)
    alerts_per_group = HOSTS
    firsts = {}
    for arrived, document in storm:
        rule = _rule_of(document)
        if rule in first and rule not in firsts:
            firsts[rule] = arrived - first[rule]
    missing = [rule for rule in first if rule not in firsts]
    slowest = max(firsts.values(), default=float("inf")) if not missing else float("inf")
    note = (
        f"{len(first) * HOSTS - failures} alerts raised in {took:.1f} s, {failures} failed; "
        f"{len(storm)} messages for {len(first)} groups x 2 channels: "
        + ", ".join(f"{channel}/{rule}={n}" for (channel, rule), n in sorted(per_group.items()))
        + (f"; other messages: {others}" if others else "")
    )
    return [
        Result(
            "storm messages per group and channel",
            f"{worst} messages (most of any group, {WATCH} s watch)",
            f"{alerts_per_group} alerts per group",
            worst / alerts_per_group,
            f"<= {MAX_PER_GROUP / alerts_per_group:.3f} ({MAX_PER_GROUP} per group)",
            0 < worst <= MAX_PER_GROUP and len(per_group) == 2 * RULES,
            note,
        ),
        Result(
            "first group message in a storm",
            f"{slowest:.1f} s after the group's first alert (slowest group)",
            f"{control:.1f} s for a lone alert on a quiet console (group_wait {GROUP_WAIT} s)",
            slowest / control,
            f"<= {(control + MAX_LATE) / control:.3f} (at most {MAX_LATE:g} s later)",
            slowest <= control + MAX_LATE,
            f"groups without a message: {missing}" if missing else "",
        ),
    ]
