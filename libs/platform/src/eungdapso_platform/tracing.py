"""OpenTelemetry trace context and the correlation id, carried from the HTTP request
through the event store (event metadata) into Kafka headers and on to every consumer.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
causation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)
_configured = False


def configure_tracing(service: str) -> None:
    """A real SDK tracer provider so spans get ids; exporters are added by OTEL_* config."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"eungdapso-{service}"}))
    _maybe_add_otlp_exporter(provider)
    trace.set_tracer_provider(provider)
    _configured = True


def _maybe_add_otlp_exporter(provider: TracerProvider) -> None:
    import os

    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    try:  # optional: only when the exporter package is installed in the image
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))


@cache
def tracer() -> trace.Tracer:
    """One tracer for the process (a proxy until `configure_tracing` sets the provider): the
    SDK builds a new one on every `get_tracer`, and every message starts a span."""
    return trace.get_tracer("eungdapso")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def continued_trace(
    span_name: str,
    *,
    traceparent: str | None,
    tracestate: str | None = None,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
    attributes: dict[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """Start a span whose parent is the W3C trace context received with a message."""
    carrier = {}
    if traceparent:
        carrier["traceparent"] = traceparent
    if tracestate:
        carrier["tracestate"] = tracestate
    parent = _propagator.extract(carrier)
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(span_name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        otel_context.detach(token)


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier
