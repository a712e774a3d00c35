from django.dispatch import Signal

# Sent after a batch of samples is committed. Keyword arguments:
#   host: metrics.models.Host
#   time: datetime of the newest sample in the batch
#   values: {series key: value} of the batch's newest values
#   latency_ms: the batch's receive-to-commit time (the latency monitor records it)
# The alert evaluator listens to this to evaluate right after ingest, with no queue hop.
samples_ingested = Signal()
