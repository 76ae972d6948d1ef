"""The status page in a real browser: Debian's headless Chromium driven by Playwright.

The service runs in a uvicorn thread against the BigQuery emulator after a backfill of a
generated sample for local-app without any Android message, so the iOS and Web dots must
be green and the Android dot grey. Chromium comes from ``scripts/install_browser.sh``
(Playwright's own browser download cannot work here); a missing one fails the test.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from serving import auth, status
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support import REPO
from tests.support.serving import LOCAL_APP_CREDENTIALS, PROJECT, XSS, import_sample

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "artifacts" / "status_page.png"
LIVEVIEW_SCREENSHOTS = REPO / "artifacts" / "liveview_1280_{}.png"
GREEN, GREY = "rgb(31, 170, 89)", "rgb(168, 173, 183)"
TIMEOUT_MS = 15_000

# One Web event with long values, as real ones come: an in-app browser's user agent, a long
# custom event name, custom data with a sentence, an unbroken token and a tagged URL.
LONG_NAME = "Gift Card Personalised On The Storefront Checkout Page Before Payment"
LONG_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.41.106;FBBV/612345678;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;"
    "FBSV/17.5.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/613374152;IABMV/1]"
)
LONG_CUSTOM_DATA = {
    "gift_message": "Happy birthday Sam! We hope this card brings you something lovely from the shop. " * 4,
    "delivery_token": "eyJhbGciOiJIUzI1NiJ9." + "QmlydGhkYXlHaWZ0Q2FyZA" * 12,
    "landing_url": "https://www.shopwise.com/gift-cards/personalise?utm_source=newsletter&utm_medium=email"
    "&utm_campaign=birthday_reminders_2026_q4&utm_content=hero_banner_variant_b",
    "design": "confetti",
}


def _long_values(event: dict) -> None:
    event.update(type="track", event=LONG_NAME, messageId="status-test-long-values", properties=LONG_CUSTOM_DATA)
    event["context"]["userAgent"] = LONG_USER_AGENT


# The problems that make Liveview wider than its card at the current viewport: the table, the
# card's content or the page wider than their box, a shown cell ending right of the card's
# content, a cell cut short without a title holding its whole text.
LIVEVIEW_OVERFLOW = """() => {
    const card = document.getElementById('liveview'), table = document.getElementById('liveview-table');
    const style = getComputedStyle(card);
    const inner = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const right = card.getBoundingClientRect().right - parseFloat(style.paddingRight);
    const problems = [];
    if (table.scrollWidth > inner) problems.push(`table ${table.scrollWidth}px in a card ${inner}px wide`);
    if (card.scrollWidth > card.clientWidth) problems.push(`card content ${card.scrollWidth}px > ${card.clientWidth}px`);
    const page = document.documentElement.scrollWidth;
    if (page > window.innerWidth) problems.push(`page ${page}px > window ${window.innerWidth}px`);
    for (const cell of table.querySelectorAll('th, td')) {
        if (!cell.getClientRects().length) continue;  // in a collapsed row
        const what = `${cell.tagName} "${cell.textContent.slice(0, 40)}"`;
        const box = cell.getBoundingClientRect();
        if (box.right > right + 0.5) problems.push(`${what} ends at ${box.right}px, the card at ${right}px`);
        if (cell.scrollWidth > cell.clientWidth && cell.title !== cell.textContent) problems.push(`${what} is cut`);
    }
    return problems;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(local_stack, tmp_path_factory) -> Iterator[str]:
    """The service, on a free loopback port, serving a sample with no Android messages."""
    dataset, _ = import_sample(
        tmp_path_factory.mktemp("status_browser"),
        keep=lambda m, outcome, platform: platform != "ANDROID",
        web_events=[_long_values],
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ServingSettings(project=PROJECT, dataset=dataset)),
            host="127.0.0.1",
            port=_free_port(),
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(status, "LIVEVIEW_REFRESH_SECONDS", 1)  # See a self-refresh without a long wait.
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (Debian chromium + chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _liveview_loaded_after(page, since: str) -> None:
    page.wait_for_function(
        "since => (document.getElementById('status').dataset.liveviewLoaded || '0') > since",
        arg=since,
        timeout=TIMEOUT_MS,
    )


def _sign_in(page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base_url}/status")
    expect(page).to_have_url(f"{base_url}/status/login")
    page.fill("#branch_key", LOCAL_APP_CREDENTIALS["branch_key"])
    page.fill("#branch_secret", LOCAL_APP_CREDENTIALS["branch_secret"])
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{base_url}/status")
    assert LOCAL_APP_CREDENTIALS["branch_secret"] not in page.url
    (cookie,) = [c for c in page.context.cookies() if c["name"] == auth.SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert LOCAL_APP_CREDENTIALS["branch_secret"] not in cookie["value"]


def test_status_page_login_dots_liveview_filters_chart_and_campaigns(base_url, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, base_url)

    # Dots: the data attribute says which, the computed colour says it is shown so.
    for platform, dot, colour in (("IOS", "green", GREEN), ("WEB", "green", GREEN), ("ANDROID", "grey", GREY)):
        item = page.locator(f'#platforms li[data-platform="{platform}"]')
        expect(item).to_have_attribute("data-dot", dot)
        assert item.locator(".dot").evaluate("e => getComputedStyle(e).backgroundColor") == colour

    # Liveview fills itself, then refreshes itself.
    _liveview_loaded_after(page, "0")
    rows = page.locator("#liveview-rows tr.event")
    assert {"IOS", "WEB"} <= set(rows.evaluate_all("rs => rs.map(r => r.dataset.platform)"))
    first_load = page.evaluate("document.getElementById('status').dataset.liveviewLoaded")
    _liveview_loaded_after(page, first_load)

    # Filter by platform: only Web rows, the URL keeps the filter, hostile names stay text.
    page.select_option("#filter-platform", "WEB")
    page.wait_for_function(
        """() => {
        const rows = [...document.querySelectorAll('#liveview-rows tr.event')];
        return rows.length > 0 && rows.every(r => r.dataset.platform === 'WEB');
    }""",
        timeout=TIMEOUT_MS,
    )
    assert "platform=WEB" in page.url
    expect(page.locator("#liveview-rows td.name", has_text=XSS)).to_have_count(1)
    assert page.evaluate("window.__xss") is None

    # Filter by name too: every row's name contains it.
    name = next(n for n in rows.locator("td.name").all_inner_texts() if n != XSS)
    page.fill("#filter-name", name)
    page.press("#filter-name", "Enter")
    page.wait_for_function(
        """name => {
        const names = [...document.querySelectorAll('#liveview-rows td.name')].map(td => td.textContent);
        return names.length > 0 && names.every(n => n.toLowerCase().includes(name.toLowerCase()));
    }""",
        arg=name,
        timeout=TIMEOUT_MS,
    )
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.platform)")) == {"WEB"}

    expect(page.locator("#chart rect.bar").first).to_be_attached()
    assert page.locator("#chart-legend li").all_inner_texts() == ["COMMERCE", "CONTENT", "USER_LIFECYCLE", "CUSTOM"]
    expect(page.locator("#reasons a").first).to_be_visible()

    # Campaigns: the table (server-rendered), the bar chart (drawn by the script) and the share.
    expect(page.locator('#campaign-table tr[data-campaign="paid_install_0"]')).to_have_count(1)
    expect(page.locator("#campaign-chart rect.campaign-bar").first).to_be_attached()
    assert page.locator("#campaign-chart rect.campaign-bar").count() == min(
        10,
        len({(r.split("\t")[0], r.split("\t")[1]) for r in page.locator("#campaign-table tbody tr").all_inner_texts()}),
    )
    assert page.locator("#attributed-share").inner_text().endswith("%")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("#reasons a >> nth=0")
    expect(page.locator("#payload")).not_to_be_empty()
    page.close()


def test_liveview_fits_its_card_at_1280_px_and_rows_expand_to_their_details(base_url, browser):
    """At 1280 px the table fits its card (it was wider), and each row's details expand below it."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, base_url)
    _liveview_loaded_after(page, "0")
    LIVEVIEW_SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(LIVEVIEW_SCREENSHOTS).format("all"), full_page=True)
    assert page.evaluate(LIVEVIEW_OVERFLOW) == []

    # The event with long values on its own.
    page.fill("#filter-name", LONG_NAME)
    page.press("#filter-name", "Enter")
    event = page.locator("#liveview-rows tr.event")
    expect(event).to_have_count(1)
    expect(event.locator("td.name")).to_have_text(LONG_NAME)
    page.screenshot(path=str(LIVEVIEW_SCREENSHOTS).format("long"), full_page=True)
    assert page.evaluate(LIVEVIEW_OVERFLOW) == []

    # A click on the row shows its details, formatted, and they still fit the card.
    toggle = event.locator("button.toggle")
    details = page.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(details).to_be_hidden()
    event.locator("td.name").click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(details).to_be_visible()
    fields = details.locator("dl").evaluate(
        "dl => Object.fromEntries([...dl.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent]))"
    )
    assert fields["Name"] == LONG_NAME
    assert fields["User agent"] == LONG_USER_AGENT
    assert fields["Segment messageId"] == "status-test-long-values"
    assert json.loads(fields["Custom data"]) == LONG_CUSTOM_DATA
    assert details.locator("pre").inner_text().count("\n") >= len(LONG_CUSTOM_DATA)  # pretty, not one line
    page.screenshot(path=str(LIVEVIEW_SCREENSHOTS).format("expanded"), full_page=True)
    assert page.evaluate(LIVEVIEW_OVERFLOW) == []

    # The refresh keeps it open; a second click closes it.
    _liveview_loaded_after(page, page.evaluate("document.getElementById('status').dataset.liveviewLoaded"))
    expect(details).to_be_visible()
    event.locator("td.name").click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(details).to_be_hidden()

    # The keyboard: the toggle is a button, Enter opens and Space closes; focus survives refreshes.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(details).to_be_visible()
    _liveview_loaded_after(page, page.evaluate("document.getElementById('status').dataset.liveviewLoaded"))
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "true"
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(details).to_be_hidden()
    assert page.evaluate("window.__xss") is None
    page.close()
