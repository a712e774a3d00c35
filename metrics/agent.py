"""The agent: samples its own host with the console's collector and pushes batches.

Sampling keeps its cadence whatever the network does: batches go into a bounded
buffer (oldest dropped first, and counted, when it is full) and a sender drains it,
oldest first, several batches per request, retrying with capped, jittered backoff on
connection errors, 5xx and 429 (honouring ``Retry-After``). Each batch carries a random
``batch_id`` made when it is sampled (and kept in the spool): the console answers a
batch it stored before as stored without writing it again, so a request whose answer
was lost is simply sent again. With a spool file the buffer survives restarts.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from metrics.catalog import parse_key
from metrics.collector import Collection, Collector, host_info
from metrics.schema import MAX_BATCHES_PER_REQUEST

logger = logging.getLogger("opsconsole.agent")

AGENT_VERSION = "1"
INGEST_PATH = "/api/v1/metrics"
BACKOFF_START = 1.0
BACKOFF_MAX = 60.0


class TokenRefused(Exception):
    """The console refused the token (401/403): retrying cannot help."""


def ingest_url(push: str) -> str:
    """Accept the console's base URL or the full ingest URL."""
    url = push.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--push must be an http:// or https:// URL, not {push!r}")
    return url if url.endswith(INGEST_PATH) else url + INGEST_PATH


def collection_to_payload(collection: Collection, *, info: dict | None = None) -> dict:
    """One batch in the shape ``POST /api/v1/metrics`` takes."""
    at = collection.time.isoformat()
    samples = []
    for key, value in collection.values.items():
        name, labels = parse_key(key)
        sample = {"metric": name, "value": value, "time": at}
        if labels:
            sample["labels"] = labels
        samples.append(sample)
    batch: dict[str, Any] = {
        "host": collection.hostname,
        "samples": samples,
        "processes": [record.as_dict() for record in collection.processes],
        "process_time": at,
        # The console recognises a resend of this batch by it (lost answer, retry).
        "batch_id": uuid.uuid4().hex,
    }
    if info:
        batch["host_info"] = {**info, "agent_version": AGENT_VERSION}
    return batch


@dataclass
class SendOutcome:
    sent: int = 0  # batches the console stored
    rejected: int = 0  # batches the console will never take (4xx other than 401/403/429)
    retry_after: float | None = None  # set when the console asked us to wait


@dataclass
class Agent:
    url: str
    token: str
    hostname: str | None = None
    interval: float = 15.0
    top_n: int = 10
    buffer_size: int = 5760  # a day of 15 s batches
    spool: Path | None = None
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    collector: Collector = field(init=False)
    buffer: deque = field(init=False)
    dropped: int = 0
    delivered: int = 0

    def __post_init__(self):
        self.collector = Collector(hostname=self.hostname, top_n=self.top_n)
        self.buffer = deque()
        self._lock = threading.Lock()
        self._info_sent = False
        self._client = httpx.Client(
            timeout=self.timeout,
            transport=self.transport,
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": f"opsconsole-agent/{AGENT_VERSION}",
            },
        )
        self._load_spool()

    # -- buffer ---------------------------------------------------------------------------
    def enqueue(self, batch: dict) -> None:
        with self._lock:
            self.buffer.append(batch)
            over = len(self.buffer) - self.buffer_size
            for _ in range(max(over, 0)):
                self.buffer.popleft()
                self.dropped += 1
            if over > 0:
                logger.warning(
                    "buffer full (%s batches): dropped the oldest; %s dropped so far",
                    self.buffer_size,
                    self.dropped,
                )

    def sample(self) -> dict:
        collection = self.collector.collect()
        info = None if self._info_sent else host_info()
        batch = collection_to_payload(collection, info=info)
        self.enqueue(batch)
        self._info_sent = True
        return batch

    def pending(self) -> int:
        with self._lock:
            return len(self.buffer)

    # -- sending --------------------------------------------------------------------------
    def send_once(self) -> SendOutcome:
        """One request carrying the oldest buffered batches. Raises TokenRefused."""
        with self._lock:
            chunk = list(self.buffer)[:MAX_BATCHES_PER_REQUEST]
        if not chunk:
            return SendOutcome()
        body = {"batches": chunk} if len(chunk) > 1 else chunk[0]
        try:
            response = self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            logger.warning(
                "console unreachable (%s), %s batches buffered", type(exc).__name__, self.pending()
            )
            return SendOutcome(retry_after=-1)
        if response.status_code in (401, 403):
            raise TokenRefused(f"token refused: {_detail(response)}")
        if response.status_code == 429 or response.status_code >= 500:
            wait = _retry_after(response)
            logger.warning(
                "console answered %s, %s batches buffered", response.status_code, self.pending()
            )
            return SendOutcome(retry_after=wait if wait is not None else -1)
        if response.status_code >= 400:
            # The request as a whole is refused and nothing of it was stored. With one
            # batch that batch is bad; with several, find it by sending one at a time.
            if len(chunk) > 1:
                return self._send_singly(chunk)
            logger.error(
                "console refused a batch (%s): %s; dropping it",
                response.status_code,
                _detail(response),
            )
            self._forget(chunk)
            return SendOutcome(rejected=1)
        self._forget(chunk)
        self.delivered += len(chunk)
        return SendOutcome(sent=len(chunk))

    def _send_singly(self, chunk: list[dict]) -> SendOutcome:
        outcome = SendOutcome()
        for batch in chunk:
            try:
                response = self._client.post(self.url, json=batch)
            except httpx.HTTPError:
                outcome.retry_after = -1
                return outcome
            if response.status_code in (401, 403):
                raise TokenRefused(f"token refused: {_detail(response)}")
            if response.status_code == 429 or response.status_code >= 500:
                outcome.retry_after = _retry_after(response) or -1
                return outcome
            self._forget([batch])
            if response.status_code >= 400:
                logger.error(
                    "console refused a batch (%s): %s; dropping it",
                    response.status_code,
                    _detail(response),
                )
                outcome.rejected += 1
            else:
                self.delivered += 1
                outcome.sent += 1
        return outcome

    def _forget(self, sent: list[dict]) -> None:
        # By identity: the buffer may have moved on while we sent (new batches behind,
        # or the oldest dropped on overflow).
        gone = {id(batch) for batch in sent}
        with self._lock:
            self.buffer = deque(b for b in self.buffer if id(b) not in gone)

    def drain(self, *, stop: threading.Event | None = None, max_wait: float | None = None) -> bool:
        """Send until the buffer is empty. Returns False if it gave up (stop or max_wait)."""
        backoff = BACKOFF_START
        waited = 0.0
        while self.pending():
            if stop is not None and stop.is_set():
                return False
            outcome = self.send_once()
            if outcome.retry_after is None:
                backoff = BACKOFF_START
                continue
            if outcome.retry_after >= 0:
                wait = min(outcome.retry_after, BACKOFF_MAX)
            else:
                wait = backoff * random.uniform(0.5, 1.0)
                backoff = min(backoff * 2, BACKOFF_MAX)
            if max_wait is not None and waited + wait > max_wait:
                return False
            logger.info("retrying in %.0f s", wait)
            waited += wait
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                self.sleep(wait)
        return True

    # -- spool ----------------------------------------------------------------------------
    def _load_spool(self) -> None:
        if self.spool is None or not self.spool.exists():
            return
        loaded = 0
        for line_number, line in enumerate(self.spool.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                self.enqueue(json.loads(line))
                loaded += 1
            except json.JSONDecodeError:
                logger.warning("spool %s line %s is not JSON; skipped", self.spool, line_number)
        if loaded:
            logger.info("loaded %s unsent batches from %s", loaded, self.spool)

    def save_spool(self) -> None:
        """Write the unsent buffer (atomically: a crash leaves the old spool intact)."""
        if self.spool is None:
            return
        with self._lock:
            lines = [json.dumps(batch, separators=(",", ":")) for batch in self.buffer]
        partial = self.spool.with_name(self.spool.name + ".tmp")
        partial.write_text("".join(line + "\n" for line in lines))
        os.replace(partial, self.spool)

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Sample every ``interval`` seconds until ``stop``; a thread sends meanwhile."""
        failure: list[BaseException] = []
        wake = threading.Event()

        def sender():
            try:
                while not stop.is_set():
                    wake.wait(self.interval)
                    wake.clear()
                    self.drain(stop=stop)
                    self.save_spool()
            except TokenRefused as exc:
                failure.append(exc)
                stop.set()

        thread = threading.Thread(target=sender, name="agent-sender", daemon=True)
        thread.start()
        next_due = time.monotonic()
        try:
            while not stop.is_set():
                self.sample()
                wake.set()
                next_due += self.interval
                # Keep the grid; after a long stall (suspend) start afresh.
                if next_due < time.monotonic():
                    next_due = time.monotonic() + self.interval
                stop.wait(max(next_due - time.monotonic(), 0))
        finally:
            stop.set()
            wake.set()
            thread.join(self.timeout + 5)
            self.save_spool()
            self._client.close()
        if failure:
            raise failure[0]

    def close(self) -> None:
        self._client.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:500]
