"""``advise --format html``: one self-contained page, opened in headless Chromium (Debian's
``chromium``, installed by .ci/run): every chart has a size, the console stays clean, nothing is
fetched from the network, and a screenshot is taken."""

from __future__ import annotations

import os
import re
import shutil

import psycopg
from playwright.sync_api import sync_playwright

from .test_advisor_set import SHOP, reset_statements, run

CHARTS = ("statements", "effects", "indexes", "bloat", "cache")


def test_the_html_report_renders_in_headless_chromium(db_on, spec_file, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    db = db_on("15")
    db.execute(SHOP + "CREATE INDEX orders_status ON orders (status); CREATE INDEX orders_status_2 ON orders (status);")
    reset_statements(db)
    run(db, [("SELECT id FROM orders WHERE customer_id = %s", lambda r: (r.randint(1, 20000),)),
             ("SELECT status, count(*) FROM orders WHERE created_at >= %s GROUP BY status", ("2026-10-01",)),
             ("SELECT id FROM customers WHERE email = %s", lambda r: (f"user{r.randint(1, 20000)}@example.org",)),
             ("SELECT count(*) FROM orders WHERE status = %s", ("new",))], times=8)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
    out = tmp_path / "report.html"
    result = db.cli("advise", "--format", "html", "--out", str(out),
                    spec=spec_file("version: 1\nmonitoring: {unused_after: 0s, unused_min_size: 0}\n"))
    assert result.exit_code == 0, result.stderr
    page_text = out.read_text()
    assert "<script" not in page_text and not re.search(r"""(src|href)=["']?https?:""", page_text)
    assert "orders_status_2" in page_text  # the duplicate index is in the report

    errors: list[str] = []
    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith("file:") else fetched.append(r.url))
            page.goto(out.as_uri())
            for chart in CHARTS:
                box = page.locator(f"#chart-{chart} svg").bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 80, (chart, box)
                assert page.locator(f"#chart-{chart} svg text").count() > 3  # axes and labels were drawn
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == [] and fetched == []
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one
    if os.environ.get("PGRECON_REPORT_SCREENSHOT"):  # how README's screenshot is made
        shutil.copy(shot, os.environ["PGRECON_REPORT_SCREENSHOT"])
