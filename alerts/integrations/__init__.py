"""Inbound integrations: other monitoring systems that hand their alerts to the pipeline.

Each is a source like the evaluator or the health checks: it turns what it is sent into
``AlertSpec``s and clears, and goes through ``alerts.pipeline`` like every other source.
"""
