"""The status page's HTML: server-rendered templates, every value escaped.

Payloads are attacker-controlled: every plain value is HTML-escaped (``render``), the page's
one script only ever sets ``textContent``, and a strict Content-Security-Policy forbids
inline script and style.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from fastapi.responses import HTMLResponse

from serving.status_models import Campaigns, OutcomeCounts, ReasonCount, StatusSummary

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
ASSETS = {"status.js": "text/javascript", "status.css": "text/css"}
# No inline script or style: an escaped-but-mistaken payload still cannot run.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Html(str):
    """Markup built here from escaped parts: ``render`` inserts it as is."""


def esc(value: Any) -> str:
    return value if isinstance(value, Html) else escape("" if value is None else str(value))


def render(template: str, *, title: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Fill ``templates/<template>.html`` into the layout; every plain value is HTML-escaped."""
    body = Template((TEMPLATES / f"{template}.html").read_text()).substitute({k: esc(v) for k, v in values.items()})
    page = Template((TEMPLATES / "layout.html").read_text()).substitute(title=escape(title), body=body)
    return HTMLResponse(page, status_code=status_code, headers=PAGE_HEADERS)


def time_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def dots(summary: StatusSummary) -> Html:
    return Html(
        "".join(
            f'<li class="platform" data-platform="{p.platform.value}" data-dot="{p.dot}">'
            f'<span class="dot dot-{p.dot}" title="{p.dot}"></span> <b>{p.platform.value}</b> '
            f'<span class="muted">last event: {esc(time_text(p.last_event_at))}; in window: '
            f"{p.window_counts.imported} imported, {p.window_counts.skipped} skipped, "
            f"{p.window_counts.rejected} rejected</span></li>"
            for p in summary.platforms
        )
    )


def count_rows(summary: StatusSummary) -> Html:
    return Html(
        "".join(
            f'<tr data-outcome="{o}"><td>{o}</td><td class="num">{getattr(summary.last_hour, o)}</td>'
            f'<td class="num">{getattr(summary.last_day, o)}</td></tr>'
            for o in OutcomeCounts.model_fields
        )
    )


def _example_links(reason: ReasonCount) -> str:
    if not reason.examples:
        return '<span class="muted">payload not stored</span>'
    return " ".join(
        f'<a href="{esc(e.payload_url)}">{esc(e.segment_event or e.segment_message_id or "payload")}</a>'
        for e in reason.examples
    )


def reason_rows(summary: StatusSummary) -> Html:
    if not summary.top_reasons:
        return Html('<tr><td colspan="4" class="muted">No skipped or rejected messages in the last day.</td></tr>')
    return Html(
        "".join(
            f'<tr data-reason="{esc(r.reason)}"><td>{esc(r.reason)}</td><td>{r.outcome}</td>'
            f'<td class="num">{r.last_day}</td><td>{_example_links(r)}</td></tr>'
            for r in summary.top_reasons
        )
    )


def double_tracking(summary: StatusSummary) -> Html:
    """The card's warning when events the app also tracks with the Branch SDK were imported."""
    if not summary.double_tracked:
        return Html("")
    total = sum(d.last_day for d in summary.double_tracked)
    names = ", ".join(f"{esc(d.name or '(none)')} ({d.last_day})" for d in summary.double_tracked)
    return Html(
        f'<p class="warning" id="double-tracking" role="alert"><b>Double tracking:</b> {total} imported event(s) in '
        f"the last day are also tracked with the Branch SDK (natively_tracked_events), so Branch counts them "
        f"twice: {names}. Stop sending them from one side.</p>"
    )


def webhook_rows(summary: StatusSummary) -> Html:
    """The Data Feeds card: each webhook subscription's deliveries over the last day."""
    if not summary.webhooks:
        return Html(
            '<tr><td colspan="5" class="muted">No webhook subscriptions (webhooks: in the app config).</td></tr>'
        )
    return Html("".join(
        f'<tr data-subscription="{esc(w.subscription_id)}"><td>{esc(w.subscription_id)}'
        f'{"" if w.enabled else " <span class=muted>(off)</span>"}</td>'
        f'<td class="num">{w.delivered}</td><td class="num">{w.failed}</td><td>{esc(w.last_error or "")}</td>'
        f'<td><a href="{esc(w.failures_url)}">failures</a></td></tr>'
        for w in summary.webhooks))  # fmt: skip


def options(choices: list[str], selected: str | None, blank: str | None) -> Html:
    items = [f'<option value="">{esc(blank)}</option>'] if blank is not None else []
    items += [f'<option value="{esc(c)}"{" selected" if c == selected else ""}>{esc(c)}</option>' for c in choices]
    return Html("".join(items))


def campaign_rows(campaigns: Campaigns) -> Html:
    if not campaigns.rows:
        return Html('<tr><td colspan="5" class="muted">No attributed conversions in the last day.</td></tr>')
    return Html("".join(
        f'<tr data-campaign="{esc(r.campaign)}"><td>{esc(r.campaign or "(none)")}</td><td>{esc(r.channel)}</td>'
        f'<td class="num">{r.conversions}</td><td class="num">{esc("" if r.revenue is None else f"{r.revenue:,.2f}")}</td>'
        f"<td>{esc(r.currency)}</td></tr>"
        for r in campaigns.rows))  # fmt: skip
