"""`synthgen review` in a real browser (headless Debian chromium through Selenium): label 20
records with the keyboard, reload and find them, read the kappa `synthgen audit` prints, save
an edited seed file; planted script never runs.

Run as a script to write a screenshot of each page (the `make review-screenshots` target):
    python tests/browser/test_review_browser.py docs/img
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # support/, also as a script

from support.helpers import run as run_cli
from support.review_data import review_run

import synthgen
from synthgen.stages.audit.store import read_verdicts

BROWSER = ("chromium", "chromium-browser")
DRIVER = "chromedriver"
WAIT = 20  # seconds an element may take to appear before the test fails


def tools() -> tuple[str | None, str | None]:
    """The chromium binary and chromedriver, if installed."""
    browser = next((p for p in map(shutil.which, BROWSER) if p), None)
    return browser, shutil.which(DRIVER)


def start_driver() -> Any:
    """Headless chromium with every other host unresolvable: the page must work offline."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = tools()
    if browser is None or driver is None:
        reason = "chromium and chromium-driver are needed (make install-browser)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser test")
        pytest.skip(reason)
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-background-networking",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(executable_path=driver))


def wait_for(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def ready(driver: Any, url: str) -> None:
    """Load a page and wait until its script has rendered the data."""
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")


def text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def press(driver: Any, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(keys).perform()


def not_pwned(driver: Any) -> None:
    """No planted payload ran, and none became an element."""
    assert driver.execute_script("return window.__pwned === undefined")
    found = driver.execute_script(
        "return [document.querySelectorAll('img').length,"
        " document.querySelectorAll('a[href^=\"javascript\"]').length,"
        " [...document.scripts].filter(s => !s.src).length]"
    )
    assert found == [0, 0, 0]


@pytest.fixture
def driver() -> Iterator[Any]:
    d = start_driver()
    try:
        yield d
    finally:
        d.quit()


def test_without_the_browser_it_skips_saying_why_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "tools", lambda: (None, "/usr/bin/chromedriver"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make install-browser"):
        start_driver()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser test"):
        start_driver()


def label_twenty(driver: Any) -> list[str]:
    """Accept or reject (with a reason) the first 20 records by keyboard; the verdicts given."""
    from selenium.webdriver.common.keys import Keys

    given = []
    for k in range(20):
        assert "hidden until you decide" in text(driver, "#judge")  # blind
        if k % 3 == 1:
            press(driver, "r")
            wait_for(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "reason")
            # the first reject takes the ledger's first reason by its number, the rest typed
            press(driver, "1" if k == 1 else "off_task" + Keys.ENTER)
            given.append("reject")
        else:
            press(driver, "a")
            given.append("accept")
        wait_for(driver, lambda d, n=k + 1: f"· {n} labelled" in text(d, "#position"))
    return given


def test_label_reload_kappa_seeds_and_no_script_runs(driver: Any, tmp_path: Path) -> None:
    run = review_run(tmp_path)
    handle = synthgen.review(run, sample=0)
    try:
        base = handle.url.split("/audit")[0]
        driver.get(handle.url)
        driver.execute_script("localStorage.setItem('synthgen-reviewer', 'ann')")
        ready(driver, base + "/audit")
        not_pwned(driver)
        assert "within 14 days" in text(driver, "mark")  # the grounded record's evidence
        given = label_twenty(driver)
        press(driver, "\ue012")  # ←: the decided record shows the judge now
        wait_for(driver, lambda d: text(d, "#judge").startswith("Judge: "))
        press(driver, "?")
        assert "reject, then a reason" in text(driver, "#help")
        driver.refresh()
        wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        assert "record 21 of 24 · 20 labelled" in text(driver, "#position")
        for k in range(20, 0, -1):
            press(driver, "\ue012")
            wait_for(driver, lambda d, k=k: f"record {k} of" in text(d, "#position"))
            assert text(driver, "#label").startswith(f"your label: {given[k - 1]}")
        notes = {v["note"] for v in read_verdicts(run / "data.verdicts.jsonl").values()}
        assert notes == {"", "off_task", "near_duplicate"}  # near_duplicate: the ledger's first
        printed = run_cli(["audit", str(run), "--summary"])
        assert printed.code == 0, printed.stderr
        kappa = re.search(r"Cohen's kappa (\S+) over (\d+)", printed.stderr)
        assert kappa is not None, printed.stderr
        assert text(driver, "#kappa") == kappa.group(1) and kappa.group(1) != "undefined"
        assert text(driver, "#paired") == kappa.group(2) == "20"
        not_pwned(driver)
        for page in ("/ledger", "/drift", "/ledger?stage=rules"):
            ready(driver, base + page)
            not_pwned(driver)
            assert (
                "<script>window" in driver.page_source.replace("&lt;", "<").replace("&gt;", ">")
                or page == "/drift"
            )
        save_edited_seeds(driver, base, run.parent)
        png = tmp_path / "review.png"
        assert driver.save_screenshot(str(png)) and png.stat().st_size > 10_000
    finally:
        handle.stop()


def save_edited_seeds(driver: Any, base: str, folder: Path) -> None:
    """Drop seed line 2, edit line 3's output, look at the diff, save as a new file."""
    from selenium.webdriver.common.by import By

    original = (folder / "seeds.jsonl").read_bytes()
    ready(driver, base + "/seeds")
    driver.find_element(By.CSS_SELECTOR, "#seed-2 input.drop").click()
    area = driver.find_element(By.CSS_SELECTOR, '#seed-3 textarea[data-field="output"]')
    area.clear()
    area.send_keys("Edited <b>by hand</b>.")
    assert driver.find_element(By.ID, "save").get_attribute("disabled")  # diff first
    driver.find_element(By.ID, "show-diff").click()
    wait_for(driver, lambda d: "+++ seeds.curated.jsonl" in text(d, "#diff"))
    assert "Edited <b>by hand</b>." in text(driver, "#diff")
    driver.find_element(By.ID, "save").click()
    wait_for(driver, lambda d: "saved as seeds.curated.jsonl" in text(d, "#status"))
    rows = [json.loads(x) for x in (folder / "seeds.curated.jsonl").read_text().splitlines()]
    assert len(rows) == 11 and rows[1]["output"] == "Edited <b>by hand</b>."
    assert (folder / "seeds.jsonl").read_bytes() == original
    not_pwned(driver)


def shrink(png: Path) -> None:
    """A palette PNG: a page of flat colours loses nothing visible, the file a few times less."""
    from PIL import Image

    with Image.open(png) as img:
        small = img.convert("RGB").quantize(colors=64)
    small.save(png, optimize=True)


def second_reviewer(base: str, token: str, n: int) -> None:
    """bob labels the first n records through the page's API (for the agreement table)."""
    import urllib.request

    def call(path: str, body: dict[str, str] | None = None) -> Any:
        req = urllib.request.Request(
            base + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Synthgen-Token": token, "Origin": base},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    for k, item in enumerate(call("/api/audit")["items"][:n]):
        verdict = "reject" if k % 2 else "accept"
        call("/api/label", {"reviewer": "bob", "id": item["id"], "verdict": verdict})


def screenshots(out: Path) -> None:
    """A screenshot of each page over the test data, for README (make review-screenshots)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        a = review_run(Path(tmp) / "run-a", rounds=4)
        b = review_run(Path(tmp) / "run-b", rounds=6)
        seeds = Path(tmp) / "run-a" / "seeds.jsonl"  # a duplicate and an outlier to find
        lines = seeds.read_text().splitlines()
        long = {**json.loads(lines[3]), "id": "s13", "output": "A long answer. " * 40}
        twin = {**json.loads(lines[1]), "id": "s14"}
        seeds.write_text("\n".join([*lines, json.dumps(twin), json.dumps(long)]) + "\n")
        handle = synthgen.review(a, b, sample=0)
        driver = start_driver()
        try:
            base = handle.url.split("/audit")[0]
            driver.get(handle.url)
            driver.execute_script("localStorage.setItem('synthgen-reviewer', 'ann')")
            ready(driver, base + "/audit")
            for k in range(8):
                press(driver, {1: "r", 3: "s"}.get(k % 4, "a"))
                if k % 4 == 1:
                    wait_for(driver, lambda d: d.switch_to.active_element.get_attribute("id"))
                    press(driver, "1")
                wait_for(driver, lambda d, n=k + 1: f"· {n} labelled" in text(d, "#position"))
            second_reviewer(base, handle.token, 8)
            ready(driver, base + "/audit")
            for page in ("audit", "seeds", "drift", "ledger"):
                if page != "audit":
                    ready(driver, f"{base}/{page}")
                png = out / f"review-{page}.png"
                driver.save_screenshot(str(png))
                shrink(png)
        finally:
            driver.quit()
            handle.stop()


if __name__ == "__main__":
    screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
