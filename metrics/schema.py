from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import AwareDatetime, model_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

MAX_SAMPLES_PER_REQUEST = 50_000
MAX_BATCHES_PER_REQUEST = 500


class SampleIn(Schema):
    metric: str = Field(..., min_length=1, max_length=255, examples=["cpu_usage_percent"])
    value: FiniteFloat = Field(..., examples=[42.5])
    time: AwareDatetime | None = Field(None, description="UTC with an offset; default: now")
    labels: dict[str, str] | None = Field(None, examples=[{"mount": "/"}])


class ProcessIn(Schema):
    pid: int = Field(..., ge=0)
    name: str = Field(..., max_length=255)
    username: str = Field("", max_length=64)
    status: str = Field("", max_length=32)
    cpu_percent: FiniteFloat = Field(..., ge=0)
    memory_percent: FiniteFloat = Field(..., ge=0)
    rss_bytes: int = Field(..., ge=0)
    num_threads: int | None = None
    read_bytes_per_second: FiniteFloat | None = None
    write_bytes_per_second: FiniteFloat | None = None
    cmdline: str = Field("", max_length=4096)


class HostInfoIn(Schema):
    platform: str | None = Field(None, max_length=255)
    cpu_count: int | None = Field(None, ge=0)
    memory_total_bytes: int | None = Field(None, ge=0)
    boot_time: AwareDatetime | None = None
    agent_version: str | None = Field(None, max_length=64)


class BatchIn(Schema):
    host: str = Field(..., min_length=1, max_length=255, examples=["db-01"])
    samples: list[SampleIn] = Field(default_factory=list)
    processes: list[ProcessIn] = Field(default_factory=list)
    process_time: AwareDatetime | None = None
    host_info: HostInfoIn | None = None
    units: dict[str, str] = Field(
        default_factory=dict, description="Units of pushed metrics: {name: unit}"
    )


class IngestIn(Schema):
    """One batch (``host`` + ``samples``) or several (``batches``), as the agent sends."""

    host: str | None = Field(None, min_length=1, max_length=255)
    samples: list[SampleIn] = Field(default_factory=list)
    processes: list[ProcessIn] = Field(default_factory=list)
    process_time: AwareDatetime | None = None
    host_info: HostInfoIn | None = None
    units: dict[str, str] = Field(default_factory=dict)
    batches: list[BatchIn] | None = None

    @model_validator(mode="after")
    def one_form(self):
        if self.batches is None and self.host is None:
            raise ValueError("send either 'host' with 'samples', or 'batches'")
        if self.batches is not None and self.host is not None:
            raise ValueError("send 'host' or 'batches', not both")
        if self.batches is not None and len(self.batches) > MAX_BATCHES_PER_REQUEST:
            raise ValueError(f"at most {MAX_BATCHES_PER_REQUEST} batches per request")
        total = sum(len(b.samples) for b in self.all_batches())
        if total > MAX_SAMPLES_PER_REQUEST:
            raise ValueError(f"{total} samples is over the {MAX_SAMPLES_PER_REQUEST} per request")
        return self

    def all_batches(self) -> list[BatchIn]:
        if self.batches is not None:
            return self.batches
        return [
            BatchIn(
                host=self.host,
                samples=self.samples,
                processes=self.processes,
                process_time=self.process_time,
                host_info=self.host_info,
                units=self.units,
            )
        ]


class IngestOut(Schema):
    samples: int
    processes: int
    hosts: list[str]
    ingest_latency_ms: float


class PointOut(Schema):
    time: datetime
    value: float
    min: float
    max: float
    count: int


class SeriesOut(Schema):
    host: str
    metric: str
    unit: str
    source: str = Field(..., description="raw, 1m or 1h: where the points were read from")
    step_seconds: int
    aggregation: str
    start: datetime
    end: datetime
    points: list[PointOut]


class ProcessOut(Schema):
    time: datetime
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


class LatestOut(Schema):
    host: str
    time: datetime | None
    stale: bool
    values: dict[str, float]
    units: dict[str, str]
    processes: list[dict]


class HostOut(Schema):
    hostname: str
    is_local: bool
    platform: str
    cpu_count: int | None
    memory_total_bytes: int | None
    last_seen: datetime | None
    stale: bool


class CollectOut(Schema):
    host: str
    samples: int
    processes: int
    time: datetime | None
