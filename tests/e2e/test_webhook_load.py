"""The webhook load rule, smaller: events through the streaming job to one subscription whose
real local receiver fails 20 % of requests with 503; every event ends delivered or recorded,
none lost (the 10k run is ``python -m bench.webhooks``, figures in bench/README.md)."""

from __future__ import annotations

from bench.webhooks import run_load


def test_every_event_is_delivered_or_recorded_when_a_fifth_of_requests_fail(local_stack):
    result = run_load(events=600, fail_every=5, concurrency=16, timeout=180)
    assert result["lost"] == 0
    assert result["delivered"] + result["failed"] == 600
    assert result["requests"] > 600  # the 503s were retried
