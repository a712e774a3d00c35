"""Context-aware recommendations (seed 001 §2): what to look at first, given the alert."""

from __future__ import annotations

from metrics.models import Host, ProcessSample


def for_metric(metric_name: str, resource: str) -> list[str]:
    name = metric_name.lower()
    if "cpu" in name or name.startswith("load"):
        return [*_top_processes(resource, "cpu"), *_CPU]
    if "memory" in name or "swap" in name:
        return [*_top_processes(resource, "memory"), *_MEMORY]
    if "disk" in name:
        return [f"Find the largest consumers on {resource}: du -xh / | sort -h | tail -20", *_DISK]
    if "latency" in name or "response" in name or "time" in name:
        return list(_PERFORMANCE)
    return ["Compare with the metric's history on the System Monitor to see when it changed."]


def for_error(
    error_type: str,
    message: str,
    *,
    endpoint: str = "",
    affected_users: int = 0,
    node: str = "",
) -> list[str]:
    """What to look at first for this error, most specific first: a refused connection
    to a database, a payment or third-party API failing, a timeout, a database error,
    memory; the generic steps only when nothing more specific applies."""
    text = f"{error_type} {message}".lower()
    where = f" on {endpoint}" if endpoint else ""
    who = f" ({affected_users} users affected so far)" if affected_users else ""
    here = f" from {node}" if node else " from the application host"
    refused = any(w in text for w in ("econnrefused", "connection refused", "could not connect"))
    database = _database_named(text)
    if refused and database:
        port = _PORTS.get(database, "its port")
        return [
            f"Is the {database} server up? Check it answers{here} "
            f"(e.g. pg_isready -h HOST -p {port} for PostgreSQL).",
            f"Is it listening on the port the application uses ({port}) and reachable"
            f"{here}: firewall, security group, DNS of the host name?",
            "Are the credentials and database name in the connection URL still valid "
            "(a rotated password refuses every new connection)?",
            "Is the connection pool exhausted or the server at max_connections? "
            "Compare the pool size with the server's limit.",
        ]
    if refused:
        return [
            f"Is the service up and listening? Check its process and port{here}.",
            "Check the address and port the application is configured with.",
            "Check firewalls, security groups and DNS between the two hosts.",
        ]
    provider = _provider_named(text)
    if provider:
        return [
            f"Check {provider}'s status page and its API dashboard for an incident{where}.",
            f"Retry failed calls with backoff and an idempotency key, so a retried "
            f"{'charge' if provider in _PAYMENT_PROVIDERS else 'request'} is not applied "
            "twice.",
            f"Tell the users who failed{who} what happened; queue what can be completed "
            "later instead of failing it.",
            "Read the provider's error code: a declined card or invalid request is the "
            "caller's to fix, a 5xx or rate limit is the provider's (back off).",
        ]
    if "timeout" in text or "timed out" in text:
        return [
            f"Check the response times of the dependency that timed out{where}.",
            "Make sure a circuit breaker or retry with backoff protects the call.",
            "Compare the timeout setting with the dependency's usual p99 latency.",
        ]
    if database or any(w in text for w in ("database", "operationalerror", "psycopg", "sql")):
        return list(_DATABASE)
    if "memory" in text:
        return list(_MEMORY)
    return [
        f"Read the stack trace from the top frame in this application's code{where}.",
        "Check what was deployed or reconfigured just before the first occurrence.",
        f"Reproduce with the request that failed{where} (payload in the metadata){who}.",
    ]


_PORTS = {"PostgreSQL": "5432", "MySQL": "3306", "Redis": "6379", "MongoDB": "27017"}
_DATABASE_WORDS = {
    "postgres": "PostgreSQL",
    "psycopg": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MySQL",
    "redis": "Redis",
    "mongo": "MongoDB",
    "database": "database",
}
_PAYMENT_PROVIDERS = ("Stripe", "PayPal", "Adyen", "Braintree", "the payment provider")
_PROVIDER_WORDS = {
    "stripe": "Stripe",
    "paypal": "PayPal",
    "adyen": "Adyen",
    "braintree": "Braintree",
    "payment": "the payment provider",
    "card declined": "the payment provider",
    "twilio": "Twilio",
    "sendgrid": "SendGrid",
    "third-party": "the third-party provider",
    "upstream": "the upstream provider",
    "apierror": "the API provider",
}


def _database_named(text: str) -> str:
    return next((name for word, name in _DATABASE_WORDS.items() if word in text), "")


def _provider_named(text: str) -> str:
    return next((name for word, name in _PROVIDER_WORDS.items() if word in text), "")


def _top_processes(hostname: str, by: str) -> list[str]:
    """The heaviest processes of the host's latest process sample, with their PIDs."""
    host = Host.objects.filter(hostname=hostname).first()
    if host is None:
        return []
    latest = ProcessSample.objects.filter(host=host).order_by("-time").values("time").first()
    if latest is None:
        return []
    order = "-cpu_percent" if by == "cpu" else "-rss_bytes"
    rows = ProcessSample.objects.filter(host=host, time=latest["time"]).order_by(order)[:3]
    return [
        f"{p.name} (PID {p.pid}) uses {p.cpu_percent:.1f} % CPU and "
        f"{p.memory_percent:.1f} % memory: inspect it with htop -p {p.pid}"
        for p in rows
    ]


_CPU = [
    "Check for runaway processes and restart the one misbehaving if it is safe to.",
    "Review deployments and cron jobs that started in the last hour.",
    "If the load lasts over 30 minutes, scale out or move work off this host.",
]
_MEMORY = [
    "Look for a process whose memory only grows (a leak): compare RSS across samples.",
    "Take a heap dump or memory profile of the largest process before restarting it.",
    "Check for swap activity; heavy swapping makes everything on the host slow.",
]
_DISK = [
    "Rotate or delete old logs (journalctl --vacuum-time=7d; logrotate).",
    "Check for deleted files still held open: lsof +L1.",
    "Extend the volume or move data before it reaches 100 %.",
]
_PERFORMANCE = [
    "Find the slowest operations in the window (traces, slow query log).",
    "Check what was deployed just before the slowdown.",
    "Profile the endpoint under load; check its database queries and external calls.",
]
_DATABASE = [
    "Check connections against max_connections and the pool's limits.",
    "Verify credentials and network reachability from the application host.",
    "Look for lock waits and long-running queries (pg_stat_activity, pg_locks).",
]
