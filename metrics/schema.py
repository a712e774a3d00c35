"""The API's shapes for ingest, series, processes, hosts and the fleet.

A process in an answer is what the collector records of it (``ProcessRecord``, the
columns of ``ProcessSample``) with when it was seen; a host is its row's fields with
whether it is stale.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from ninja import Field, ModelSchema, Schema
from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from metrics.collector import ProcessRecord
from metrics.models import Host, ProcessSample
from opsconsole.apitools import StoredColumns
from opsconsole.inputguard import INT32_MAX, INT64

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# Ingest stores with COPY or bulk_create, which the models' range check does not see:
# the columns' PostgreSQL ranges are the schema's, so both databases refuse alike (422).
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=0, le=INT64 - 1)]

MAX_SAMPLES_PER_REQUEST = 50_000
MAX_BATCHES_PER_REQUEST = 500
BATCH_ID = Field(
    None,
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9_.:-]+$",
    description=(
        "The sender's id of this batch (the agent sends a random one): a batch resent "
        "with the same id after it was stored is answered as stored, not stored twice"
    ),
    examples=["3f2c9a7e5b1d4c8e9a0b1c2d3e4f5a6b"],
)

# The ingest request and its parts are plain pydantic models, not ninja Schemas: a
# Schema runs a Python-level validator per object (to read ORM rows), which for a batch
# of 50 samples was most of the validation time; these only ever come from JSON.


class SampleIn(BaseModel):
    metric: str = Field(..., min_length=1, max_length=255, examples=["cpu_usage_percent"])
    value: FiniteFloat = Field(..., examples=[42.5])
    time: AwareDatetime | None = Field(None, description="UTC with an offset; default: now")
    labels: dict[str, str] | None = Field(None, examples=[{"mount": "/"}])


class ProcessIn(BaseModel):
    pid: Int32
    name: str = Field(..., max_length=255)
    username: str = Field("", max_length=64)
    status: str = Field("", max_length=32)
    cpu_percent: FiniteFloat = Field(..., ge=0)
    memory_percent: FiniteFloat = Field(..., ge=0)
    rss_bytes: Int64
    num_threads: Int32 | None = None
    read_bytes_per_second: FiniteFloat | None = None
    write_bytes_per_second: FiniteFloat | None = None
    cmdline: str = Field("", max_length=4096)


class HostInfoIn(BaseModel):
    platform: str | None = Field(None, max_length=255)
    cpu_count: Int32 | None = None
    memory_total_bytes: Int64 | None = None
    boot_time: AwareDatetime | None = None
    agent_version: str | None = Field(None, max_length=64)


class BatchIn(BaseModel):
    host: str = Field(..., min_length=1, max_length=255, examples=["db-01"])
    samples: list[SampleIn] = Field(default_factory=list)
    processes: list[ProcessIn] = Field(default_factory=list)
    process_time: AwareDatetime | None = None
    host_info: HostInfoIn | None = None
    units: dict[str, str] = Field(
        default_factory=dict, description="Units of pushed metrics: {name: unit}"
    )
    batch_id: str | None = BATCH_ID


class IngestIn(BaseModel):
    """One batch (``host`` + ``samples``) or several (``batches``), as the agent sends."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "host": "db-01",
                    "samples": [
                        {"metric": "orders_per_minute", "value": 42},
                        {"metric": "disk_usage_percent", "value": 71.5, "labels": {"mount": "/"}},
                    ],
                    "units": {"orders_per_minute": "orders/min"},
                }
            ]
        }
    )

    host: str | None = Field(None, min_length=1, max_length=255)
    samples: list[SampleIn] = Field(default_factory=list)
    processes: list[ProcessIn] = Field(default_factory=list)
    process_time: AwareDatetime | None = None
    host_info: HostInfoIn | None = None
    units: dict[str, str] = Field(default_factory=dict)
    batch_id: str | None = BATCH_ID
    batches: list[BatchIn] | None = None

    @model_validator(mode="before")
    @classmethod
    def an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(
                "the body must be a JSON object: one batch ('host' with 'samples') or 'batches'"
            )
        return data

    @model_validator(mode="after")
    def one_form(self) -> IngestIn:
        if self.batches is None and self.host is None:
            raise ValueError("send either 'host' with 'samples', or 'batches'")
        if self.batches is not None and self.host is not None:
            raise ValueError("send 'host' or 'batches', not both")
        if self.batches is not None and len(self.batches) > MAX_BATCHES_PER_REQUEST:
            raise ValueError(f"at most {MAX_BATCHES_PER_REQUEST} batches per request")
        if self.batches is not None:
            total = sum(len(b.samples) for b in self.batches)
        else:
            total = len(self.samples)
        if total > MAX_SAMPLES_PER_REQUEST:
            raise ValueError(f"{total} samples is over the {MAX_SAMPLES_PER_REQUEST} per request")
        return self

    def all_batches(self) -> list[BatchIn]:
        if self.batches is not None:
            return self.batches
        assert self.host is not None  # one_form(): no batches, so a host
        # Its parts are validated already: built as they are, not validated again.
        return [
            BatchIn.model_construct(**{name: getattr(self, name) for name in BatchIn.model_fields})
        ]


class IngestOut(Schema):
    samples: int
    processes: int
    hosts: list[str]
    ingest_latency_ms: float
    resent_batches: int = Field(
        0,
        description=(
            "batches whose batch_id was already stored: answered as stored, not stored "
            "again (the request is a 200 when every batch was one)"
        ),
    )


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


class ProcessOut(StoredColumns, ModelSchema):
    """A process as the collector recorded it, at ``time``."""

    class Meta:
        model = ProcessSample
        fields = ["time", *(field.name for field in dataclass_fields(ProcessRecord))]


class LatestOut(Schema):
    host: str
    time: datetime | None
    stale: bool
    values: dict[str, float]
    units: dict[str, str]
    processes: list[dict]


class HostOut(StoredColumns, ModelSchema):
    class Meta:
        model = Host
        fields = [
            "hostname",
            "is_local",
            "platform",
            "cpu_count",
            "memory_total_bytes",
            "last_seen",
        ]

    stale: bool = Field(..., description="no sample for three collection intervals")

    @staticmethod
    def resolve_stale(obj: Host) -> bool:
        return obj.is_stale(settings.METRICS_COLLECTION_INTERVAL)


class CollectOut(Schema):
    host: str
    samples: int
    processes: int
    time: datetime | None


RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}


class SeriesQuery(Schema):
    host: str = Field(..., description="the host's name")
    metric: str = Field(
        ..., description='a name (with labels), or a series key: disk_usage_percent{mount="/"}'
    )
    labels: str | None = Field(None, description="name=value pairs, comma-separated: mount=/")
    start: AwareDatetime | None = Field(None, description="default: end minus the range")
    end: AwareDatetime | None = Field(None, description="default: now")
    range: str | None = Field(
        None, description=f"when start is left out: one of {', '.join(RANGES)} (default 1h)"
    )
    step: int | None = Field(None, description="seconds per point (default: the source's)")
    aggregation: str = Field("avg", description="avg, min, max, last, count or sum")


class ProcessQuery(Schema):
    host: str = Field(..., description="the host's name")
    at: AwareDatetime | None = Field(
        None, description="the collection at or before (default: the latest)"
    )
    name: str | None = Field(None, description="part of the process name")
    sort: str = Field("cpu", description="cpu or memory")
    limit: int = Field(20, description="1 to 500")


class SystemOverviewOut(Schema):
    time: datetime
    host_count: int
    critical_hosts: int
    stale_hosts: int
    hosts: list[dict[str, Any]] = Field(
        ..., description="each host's vitals (as /widgets/vitals), worst first"
    )


class FleetQuery(Schema):
    q: str = Field("", max_length=255, description="part of the host name")
    state: Literal["", "ok", "critical", "no_data", "stale"] = Field(
        "", description="only hosts in this state"
    )
    sort: Literal["state", "hostname", "cpu", "memory", "disk", "last_seen", "alerts"] = Field(
        "state",
        description="worst state, busiest, newest and most alerted first; names A-Z",
    )
    order: Literal["asc", "desc"] = Field("asc", description="desc reverses the sort")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(50, ge=1, le=200)


class FleetHostOut(Schema):
    id: int
    hostname: str
    state: Literal["ok", "critical", "no_data", "stale"]
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None = Field(description="the fullest mount's usage")
    disk_mount: str | None
    last_seen: datetime | None
    open_alerts: int
    labels: dict[str, Any]
    sparklines: dict[str, list[float]] = Field(
        description="cpu, memory, disk: the last hour per minute, ending at the latest value"
    )
    system_monitor: str = Field(description="the host's System Monitor page")


class FleetOut(Schema):
    count: int = Field(description="hosts matching q and state")
    page: int
    pages: int
    per_page: int
    states: dict[str, int] = Field(description="hosts matching q, per state")
    hosts: list[FleetHostOut]
