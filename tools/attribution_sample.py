"""Touches and conversions whose true attribution is known by construction (rules §9).

Each scenario gets identities of its own, so scenarios never touch each other or the random
sample (whose touch sources carry no identity: ``tools/samples.py``). The messages come in
three phases, published in order with the pipeline caught up in between, because attribution
depends on what arrived before (``run_local.sh`` does this):

1. touches;
2. conversions that teach a touch to another platform (a web login that links a browser
   fingerprint to a user id);
3. every other conversion.

``expected`` holds, per conversion message id, the attribution the rules give: the campaign
(None: unattributed), the touch type and the strongest shared key. Conversions are at most
20 hours old (the streaming job rejects events older than a day); touches may be older.

With ``branch_files=True`` some touches are not in the stream at all: they are rows of a
Branch eo_click export file (``export_file()``), to be loaded into ``touches`` with
``load_touches`` before the job starts, which reads them back (rules §9).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from tools.samples import SampleMessage

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
# The columns of the sample's Branch export file (a v2 eo_click file has ~190; these are the
# ones a touch is read from).
EXPORT_FILE_HEADER = ("id", "name", "timestamp", "last_attributed_touch_type", "last_attributed_touch_timestamp",
                      "last_attributed_touch_data_tilde_campaign", "last_attributed_touch_data_tilde_channel",
                      "last_attributed_touch_data_tilde_feature", "user_data_developer_identity")  # fmt: skip
EXPORT_FILE_NAME = "local-app-sample-eo_click-v2-0.csv.gz"  # the topic is read from the name


class Expected(NamedTuple):
    campaign: str | None  # None: not attributed
    channel: str | None = None
    touch_type: str | None = None
    match: str | None = None


@dataclasses.dataclass
class AttributionSample:
    touches: list[SampleMessage] = dataclasses.field(default_factory=list)
    teachers: list[SampleMessage] = dataclasses.field(default_factory=list)
    conversions: list[SampleMessage] = dataclasses.field(default_factory=list)
    expected: dict[str, Expected] = dataclasses.field(default_factory=dict)
    export_rows: list[dict[str, str]] = dataclasses.field(default_factory=list)  # eo_click rows (branch_files)

    @property
    def phases(self) -> list[list[SampleMessage]]:
        return [self.touches, self.teachers, self.conversions]

    def export_file(self) -> bytes:
        """``export_rows`` as Branch writes an export file: gzipped CSV, every value quoted."""
        out = io.StringIO()
        writer = csv.DictWriter(out, EXPORT_FILE_HEADER, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(self.export_rows)
        return gzip.compress(out.getvalue().encode())


class _Builder:
    def __init__(self, now: datetime, instance: int) -> None:
        self.now, self.instance, self._n = now, instance, 0

    def ident(self, what: str) -> str:
        return f"attr-{self.instance}-{what}"

    def event(self, name: str, ago: timedelta, *, user_id: str | None = None, context: dict | None = None,
              properties: dict | None = None) -> dict[str, Any]:  # fmt: skip
        self._n += 1
        event: dict[str, Any] = {
            "type": "track", "event": name, "messageId": self.ident(f"m{self._n}"),
            "timestamp": (self.now - ago).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "context": context or {}, "properties": properties or {},
        }  # fmt: skip
        if user_id is not None:
            event["userId"] = user_id
        return event


def _ios(idfa: str, idfv: str | None = None) -> dict[str, Any]:
    device = {"type": "ios", "advertisingId": idfa, "manufacturer": "Apple", "model": "iPhone15,2"}
    if idfv:
        device["id"] = idfv
    return {"device": device, "os": {"name": "iOS", "version": "18.1"}}


def _android(aaid: str) -> dict[str, Any]:
    return {"device": {"type": "android", "advertisingId": aaid}, "os": {"name": "Android", "version": "15"}}


def _web() -> dict[str, Any]:
    return {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
            "page": {"url": "https://shop.example.com/"}}  # fmt: skip


def _purchase(revenue: float) -> dict[str, Any]:
    return {"order_id": f"o-{revenue}", "revenue": revenue, "currency": "USD"}


def _scenarios(b: _Builder) -> Iterator[tuple[int, dict[str, Any], Expected | None]]:
    """(phase, event, expected attribution if it is a conversion) of one instance of each scenario."""
    i = b.instance
    # An install attributed to a paid campaign, then an in-app purchase on that device.
    idfa = b.ident("idfa-paid").upper()
    yield 0, b.event("Install Attributed", 3 * DAY, context=_ios(idfa), properties={
        "provider": "Branch", "campaign": {"name": f"paid_install_{i}", "source": "facebook",
                                          "medium": "paid_advertising", "ad_group": "lookalike"}}), None  # fmt: skip
    yield (
        2,
        b.event("Order Completed", 2 * HOUR, context=_ios(idfa), properties=_purchase(49.9 + i)),
        Expected(f"paid_install_{i}", "facebook", "CLICK", "advertising_id"),
    )
    # A deep-link open whose link carries "~" and utm_ parameters ("~" wins).
    aaid = b.ident("aaid")
    url = (f"https://shop.app.link/sale?~campaign=deep_link_{i}&utm_campaign=ignored&utm_source=newsletter"
           f"&utm_medium=email&~feature=marketing")  # fmt: skip
    yield 0, b.event("Deep Link Opened", DAY, context=_android(aaid), properties={"url": url}), None
    yield 2, b.event("Product Added", HOUR, context=_android(aaid), properties={"product_id": "p1", "price": 9.5}), \
        Expected(f"deep_link_{i}", "newsletter", "CLICK", "advertising_id")  # fmt: skip
    # Branch's own event exported to Segment, then a server-side purchase by the same user.
    user = b.ident("user-export")
    yield 0, b.event("branch_INSTALL", 2 * DAY, user_id=user,
                     properties={"~campaign": f"branch_export_{i}", "~channel": "google"}), None  # fmt: skip
    yield (
        2,
        b.event("Order Completed", 3 * HOUR, user_id=user, properties=_purchase(20.0 + i)),
        Expected(f"branch_export_{i}", "google", "CLICK", "developer_identity"),
    )
    # A web click known by its browser fingerprint: a probabilistic click for a web purchase.
    fingerprint = b.ident("fp-web")
    yield 0, b.event("Deep Link Clicked", 5 * HOUR, context=_web(), properties={
        "url": f"https://shop.app.link/w?~campaign=web_click_{i}&~channel=instagram",
        "browser_fingerprint_id": fingerprint}), None  # fmt: skip
    yield 2, b.event("Order Completed", HOUR, context=_web(), properties={
        **_purchase(15.0 + i), "browser_fingerprint_id": fingerprint}), Expected(
        f"web_click_{i}", "instagram", "CLICK", "browser_fingerprint")  # fmt: skip
    # Cross-platform: a web click, a web login linking the fingerprint to a user id, an app purchase.
    fingerprint, user, idfa = b.ident("fp-cross"), b.ident("user-cross"), b.ident("idfa-cross").upper()
    yield 0, b.event("Deep Link Clicked", 2 * DAY, context=_web(), properties={
        "url": f"https://shop.app.link/c?~campaign=cross_platform_{i}&~channel=tiktok",
        "browser_fingerprint_id": fingerprint}), None  # fmt: skip
    yield 1, b.event("Login", 20 * HOUR, user_id=user, context=_web(), properties={"browser_fingerprint_id": fingerprint}), \
        Expected(f"cross_platform_{i}", "tiktok", "CLICK", "browser_fingerprint")  # fmt: skip
    yield 2, b.event("Order Completed", 2 * HOUR, user_id=user, context=_ios(idfa), properties=_purchase(99.0 + i)), \
        Expected(f"cross_platform_{i}", "tiktok", "CLICK", "developer_identity")  # fmt: skip
    # An impression for a known user: a deterministic impression within a day.
    user = b.ident("user-impression")
    yield (
        0,
        b.event(
            "Deep Link Opened",
            12 * HOUR,
            user_id=user,
            properties={
                "url": f"https://shop.app.link/i?~campaign=impression_{i}&~channel=youtube",
                "touch_type": "impression",
            },
        ),
        None,
    )
    yield (
        2,
        b.event("Order Completed", HOUR, user_id=user, properties=_purchase(5.0 + i)),
        Expected(f"impression_{i}", "youtube", "IMPRESSION", "developer_identity"),
    )
    # An impression known only by a fingerprint never attributes.
    fingerprint = b.ident("fp-impression")
    yield 0, b.event("Deep Link Opened", 2 * HOUR, context=_web(), properties={
        "url": f"https://shop.app.link/j?~campaign=fingerprint_impression_{i}", "touch_type": "impression",
        "browser_fingerprint_id": fingerprint}), None  # fmt: skip
    yield 2, b.event("Order Completed", HOUR, context=_web(), properties={
        **_purchase(7.0 + i), "browser_fingerprint_id": fingerprint}), Expected(None)  # fmt: skip
    # Touches outside the windows: a click of 10 days, an impression of 2 days.
    idfa, user = b.ident("idfa-old").upper(), b.ident("user-old")
    yield 0, b.event("Install Attributed", 10 * DAY, context=_ios(idfa), properties={
        "campaign": {"name": f"too_old_{i}", "source": "facebook"}}), None  # fmt: skip
    yield (
        0,
        b.event(
            "Deep Link Opened",
            2 * DAY,
            user_id=user,
            properties={"url": f"https://shop.app.link/o?~campaign=old_impression_{i}", "touch_type": "impression"},
        ),
        None,
    )
    yield 2, b.event("Order Completed", HOUR, context=_ios(idfa), properties=_purchase(30.0 + i)), Expected(None)
    yield 2, b.event("Order Completed", HOUR, user_id=user, properties=_purchase(31.0 + i)), Expected(None)
    # A touch after the conversion's own time is not used.
    user = b.ident("user-later")
    yield 0, b.event("branch_OPEN", HOUR, user_id=user, properties={"campaign": f"after_{i}"}), None
    yield 2, b.event("Order Completed", 3 * HOUR, user_id=user, properties=_purchase(12.0 + i)), Expected(None)


def _branch_file_scenario(b: _Builder) -> tuple[dict[str, str], dict[str, Any], Expected]:
    """A click only Branch's export file knows (loaded into ``touches``), then a purchase by the
    same user id: (its eo_click row, the purchase, its attribution)."""
    i, user = b.instance, b.ident("user-branch-file")
    clicked = str(int((b.now - 6 * HOUR).timestamp() * 1000))
    row = {"id": str(900_000 + i), "name": "CLICK", "timestamp": clicked, "last_attributed_touch_type": "CLICK",
           "last_attributed_touch_timestamp": clicked, "last_attributed_touch_data_tilde_campaign": f"branch_file_{i}",
           "last_attributed_touch_data_tilde_channel": "email", "last_attributed_touch_data_tilde_feature": "marketing",
           "user_data_developer_identity": user}  # fmt: skip
    purchase = b.event("Order Completed", 2 * HOUR, user_id=user, properties=_purchase(60.0 + i))
    return row, purchase, Expected(f"branch_file_{i}", "email", "CLICK", "developer_identity")


def attribution_sample(now: datetime, instances: int = 5, *, branch_files: bool = False) -> AttributionSample:
    """``instances`` copies of every scenario, each with identities of its own; with
    ``branch_files``, also the scenario whose touches come from a Branch export file."""
    sample = AttributionSample()
    for instance in range(instances):
        builder = _Builder(now, instance)
        for phase, event, expected in _scenarios(builder):
            message = SampleMessage(orjson.dumps(event), {}, "attribution")
            sample.phases[phase].append(message)
            if expected is not None:
                sample.expected[event["messageId"]] = expected
        if branch_files:
            row, purchase, expected = _branch_file_scenario(builder)
            sample.export_rows.append(row)
            sample.conversions.append(SampleMessage(orjson.dumps(purchase), {}, "attribution"))
            sample.expected[purchase["messageId"]] = expected
    return sample
