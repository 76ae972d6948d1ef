"""Webhook subscriptions: filters, bodies, templates, signatures, retry rules (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.config import parse_config
from domain.webhooks import (
    WebhookFilter,
    WebhookSubscription,
    backoff_seconds,
    delivery_url,
    event_body,
    idempotency_key,
    signature,
    verdict,
    verify_signature,
)

ROW = {
    "id": "e-1",
    "app_id": "local-app",
    "name": "PURCHASE",
    "category": "COMMERCE",
    "origin": "SEGMENT",
    "timestamp": datetime(2026, 11, 28, 12, tzinfo=UTC),
    "user_data_os": "IOS",
    "user_data_developer_identity": "user-1",
    "event_data_revenue": Decimal("12.50"),
    "event_data_currency": "EUR",
    "content_items": [{"$sku": "s-1", "custom_fields": '{"colour":"red"}'}],
    "custom_data": '{"coupon":"X"}',
    "attributed": True,
    "last_attributed_touch_type": "CLICK",
    "last_attributed_touch_data_tilde_campaign": "spring",
    "last_attributed_touch_data_tilde_advertising_partner_name": "Partner X",
    "last_attributed_touch_data_tilde_id": "123",
}


def subscription(**fields) -> WebhookSubscription:
    return WebhookSubscription.model_validate({"id": "s", "url": "https://example.com/hook", **fields})


def test_the_filter_matches_every_listed_condition():
    only_partner_x = WebhookFilter(names=("PURCHASE",), attributed=True, advertising_partners=("Partner X",))
    assert only_partner_x.matches(ROW)
    assert not only_partner_x.matches({**ROW, "attributed": False})
    assert not only_partner_x.matches({**ROW, "last_attributed_touch_data_tilde_advertising_partner_name": "Y"})
    assert not WebhookFilter(platforms=("ANDROID",)).matches(ROW)
    assert WebhookFilter().matches({})  # no condition: everything


def test_the_body_uses_branchs_event_ontology_names():
    body = event_body(ROW)
    assert body["name"] == "PURCHASE" and body["timestamp"] == "2026-11-28T12:00:00+00:00"
    assert body["user_data"] == {"os": "IOS", "developer_identity": "user-1"}
    assert body["event_data"] == {"revenue": 12.5, "currency": "EUR"}
    assert body["content_items"] == [{"$sku": "s-1", "custom_fields": {"colour": "red"}}]
    assert body["custom_data"] == {"coupon": "X"}
    assert body["last_attributed_touch_data"] == {
        "~campaign": "spring",
        "~advertising_partner_name": "Partner X",
        "~id": "123",
    }
    assert body["attributed"] is True and body["id"] == "e-1"


def test_a_get_postback_fills_its_template_url_encoded():
    sub = subscription(
        method="GET",
        query_template="click={last_attributed_touch_data_tilde_id}&rev={event_data_revenue}&c={last_attributed_touch_data_tilde_campaign}&x={missing}",
    )
    assert delivery_url(sub, ROW) == "https://example.com/hook?click=123&rev=12.5&c=spring&x="
    assert delivery_url(sub, {**ROW, "last_attributed_touch_data_tilde_campaign": "a b&c"}).endswith("c=a%20b%26c&x=")


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "GET"},  # no template
        {"method": "GET", "query_template": "a={not a column}"},
        {"url": "ftp://x"},
        {"secret": {"env": "A", "secret_manager": "projects/p/secrets/s/versions/1"}},
        {"secret": {"value": "in clear"}},  # a secret is referenced, never written in the config
        {"max_attempts": 0},
    ],
)
def test_bad_subscriptions_are_refused(fields):
    with pytest.raises(ValidationError):
        subscription(**fields)


def test_subscription_ids_are_unique_per_app():
    apps = {"apps": [{"app_id": "a", "branch_key": "k", "branch_secret_hash": "pbkdf2_sha256$1$c2FsdA$" + "A" * 43,
                      "webhooks": [{"id": "s", "url": "https://x.io/a"}, {"id": "s", "url": "https://x.io/b"}]}]}  # fmt: skip
    with pytest.raises(ValidationError, match="duplicate webhook subscription id"):
        parse_config(str(apps).replace("'", '"'))


def test_signatures_verify_and_cover_the_timestamp_and_body():
    header = signature(b"secret", 1764331200, b'{"a":1}')
    assert verify_signature(b"secret", header, b'{"a":1}')
    assert not verify_signature(b"other", header, b'{"a":1}')
    assert not verify_signature(b"secret", header, b'{"a":2}')
    assert not verify_signature(b"secret", header.replace("t=1764331200", "t=1764331201"), b'{"a":1}')
    assert not verify_signature(b"secret", "garbage", b"")


def test_the_idempotency_key_is_stable_per_event_and_subscription():
    assert idempotency_key("e-1", "s") == idempotency_key("e-1", "s") != idempotency_key("e-1", "t")


@pytest.mark.parametrize(
    "status, expected",
    [(200, "delivered"), (204, "delivered"), (None, "retry"), (500, "retry"), (503, "retry"), (429, "retry"),
     (408, "retry"), (400, "failed"), (401, "failed"), (404, "failed"), (301, "failed")],
)  # fmt: skip
def test_what_is_retried(status, expected):
    assert verdict(status) == expected


def test_backoff_grows_exponentially_with_full_jitter_under_a_cap():
    rand = random.Random(1)
    for attempt in range(1, 12):
        assert 0 <= backoff_seconds(attempt, rand=rand) <= min(30.0, 0.5 * 2 ** (attempt - 1))
    assert max(backoff_seconds(10, rand=rand) for _ in range(200)) > 15  # jitter spans the range
