"""The live-runs page in a real browser: Debian's chromium, driven by selenium through
chromium-driver, against a real server on free ports.

Each state is saved as a screenshot under the test's temporary directory
(``pytest --basetemp DIR`` keeps them in DIR). Skipped only when chromium or its
driver is not installed (``make install`` installs both).
"""

from __future__ import annotations

import itertools
import os
import shutil
import time

import pytest

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (make install installs them)",
)

PROMPT = "Tell me about hypergraphs"
# The offline stand-in model's deterministic answer starts like this.
ANSWER_START = f'[offline stand-in] You asked: "{PROMPT}".'
WAIT_S = 60.0


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let selenium look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,1400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(predicate, what: str, timeout: float = WAIT_S):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (StaleElementReferenceException, NoSuchElementException):
            value = None  # the page re-rendered between finding and reading: look again
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def answer(driver) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, 'pre.tokens[data-node="reply"]')
    return found[0].text if found else ""


def status(driver) -> str:
    return by_id(driver, "run-status").text


def open_page(driver, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, "#graph option[value='chat']"), "the graphs"
    )


def start_chat(driver, tokens_per_second: int) -> str:
    from selenium.webdriver.support.ui import Select

    Select(by_id(driver, "graph")).select_by_value("chat")
    wait_for(lambda: driver.find_elements("id", "input-prompt"), "the chat inputs")
    prompt = by_id(driver, "input-prompt")
    prompt.clear()
    prompt.send_keys(PROMPT)
    pace = by_id(driver, "input-tokens_per_second")
    pace.clear()
    pace.send_keys(str(tokens_per_second))
    by_id(driver, "start").click()
    return wait_for(
        lambda: by_id(driver, "run-id").text.startswith("web-") and by_id(driver, "run-id").text,
        "a workflow id",
    )


def read_while_growing(driver, moments: int) -> list[str]:
    """The answer read at several moments, each time once it has grown."""
    seen = [wait_for(lambda: answer(driver) or " ", "the answer").strip()]
    while len(seen) <= moments:
        seen.append(wait_for(lambda: (t := answer(driver)) != seen[-1] and t, "more tokens"))
    return seen


def test_the_page_lists_the_graphs_with_their_inputs(server, browser, tmp_path):
    open_page(browser, server.http_url)
    graphs = by_id(browser, "graph-list").text
    assert "chat (prompt, system?, provider?, model?, max_tokens?, tokens_per_second?)" in graphs
    assert "tokens (count, delay_ms?, prefix?, burst?)" in graphs
    browser.save_screenshot(str(tmp_path / "page-loaded.png"))


def test_chat_streams_token_by_token_and_stop_ends_it_stopped(server, browser, tmp_path):
    open_page(browser, server.http_url)
    workflow_id = start_chat(browser, tokens_per_second=8)
    texts = read_while_growing(browser, moments=4)
    browser.save_screenshot(str(tmp_path / "streaming.png"))
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert len({len(t) for t in texts}) == len(texts)  # it grew between every two reads
    assert all(ANSWER_START.startswith(t) or t.startswith(ANSWER_START) for t in texts)
    assert status(browser) == "running"

    by_id(browser, "stop").click()
    wait_for(lambda: status(browser) == "STOPPED", "STOPPED")
    browser.save_screenshot(str(tmp_path / "stopped.png"))
    stopped_at = answer(browser)
    assert stopped_at.startswith(texts[-1])
    timeline = by_id(browser, "timeline-rows").text
    assert "stop requested" in timeline and '{"kind":"user_stop"}' in timeline
    assert "run ended" in timeline
    assert by_id(browser, "stop").get_attribute("disabled") is not None
    time.sleep(0.5)
    assert answer(browser) == stopped_at  # nothing more arrives once stopped
    assert workflow_id in by_id(browser, "status").text


def test_a_reload_reattaches_to_the_running_run_and_shows_the_rest(server, browser, tmp_path):
    open_page(browser, server.http_url)
    workflow_id = start_chat(browser, tokens_per_second=15)
    by_id(browser, "refresh-runs").click()  # the live runs (ListRuns) list it with its replica
    row = wait_for(
        lambda: next(
            (
                r.text
                for r in browser.find_elements("css selector", "#run-rows tr")
                if workflow_id in r.text
            ),
            "",
        ),
        "the run in the live runs",
    )
    assert "chat" in row and "RUNNING" in row
    before = read_while_growing(browser, moments=2)[-1]
    browser.refresh()
    wait_for(lambda: by_id(browser, "run-id").text == workflow_id, "the re-attached run")
    browser.save_screenshot(str(tmp_path / "reattached.png"))
    wait_for(lambda: status(browser) == "COMPLETED", "COMPLETED", timeout=120)
    browser.save_screenshot(str(tmp_path / "completed.png"))
    final = answer(browser)
    assert final.startswith(ANSWER_START)
    assert final.startswith(before) and len(final) > len(before)
    assert "run ended" in by_id(browser, "timeline-rows").text
    assert "output_tokens" in by_id(browser, "timeline-rows").text  # usage on the timeline


def test_a_refused_run_shows_the_servers_message(server, browser):
    from selenium.webdriver.support.ui import Select

    open_page(browser, server.http_url)
    Select(by_id(browser, "graph")).select_by_value("add")
    wait_for(lambda: browser.find_elements("id", "input-a"), "the add inputs")
    by_id(browser, "input-a").send_keys("1")
    browser.execute_script("document.getElementById('input-b').required = false")
    by_id(browser, "start").click()
    message = wait_for(
        lambda: "INVALID_ARGUMENT" in (t := by_id(browser, "status").text) and t, "the refusal"
    )
    assert "values.b" in message
    assert status(browser) == "error"
