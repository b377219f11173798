"""Take the README screenshots from a running console with data (``make run``): one per view, 1400 px wide.

    .venv/bin/python services/ops/scripts/readme_screenshots.py --url http://127.0.0.1:8080 \\
        --out services/ops/screenshots

Logs in as the demo operator (``config/users.demo.yaml``; pass --user/--password for others), picks a breached
lead and the newest dead letter through the JSON APIs, and fails on any console error or 4xx/5xx response, or on
a page wider than the window. Needs Debian's chromium (``make browser-deps``) and Playwright.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
from pathlib import Path

from playwright.async_api import async_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]


async def take(url: str, out: Path, user: str, password: str, width: int, height: int) -> list[str]:
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        context = await browser.new_context(viewport={"width": width, "height": height}, base_url=url)
        page = await context.new_page()
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        await page.goto("/login")
        await page.fill("#username", user)
        await page.fill("#password", password)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/now")
        breaches = await (await page.request.get("/api/breaches?open=true&limit=20")).json()
        lead = next((b["lead_id"] for b in breaches["rows"]), None)
        pipeline = await page.goto("/pipeline")
        assert pipeline is not None
        letter = re.search(r'class="dl-link" href="(/deadletters/[^"]+)"', await pipeline.text())
        views = {
            "now": "/now",
            "speed": "/speed?window=24h&by=team",
            "breaches": "/breaches",
            "breach-lead": f"/leads/{lead}" if lead else None,
            "team": "/team",
            "pipeline": "/pipeline",
            "deadletter": letter[1] if letter else None,
            "staffing": "/staffing",
        }
        for name, path in views.items():
            if path is None:
                problems.append(f"{name}: nothing to show yet")
                continue
            await page.goto(path)
            await page.wait_for_timeout(1200)  # the live board's first push, local times
            wider = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if wider > 0:
                problems.append(f"{path}: {wider} px wider than the window")
            await page.screenshot(path=str(out / f"{name}.png"))
            print(f"{name:12} {path}")
        await browser.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--out", type=Path, default=Path("services/ops/screenshots"))
    parser.add_argument("--user", default="operator")
    parser.add_argument("--password", default="operator-demo")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    problems = asyncio.run(take(a.url, a.out, a.user, a.password, a.width, a.height))
    for p in problems:
        print("problem:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
