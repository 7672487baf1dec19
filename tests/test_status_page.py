# SPDX-License-Identifier: Apache-2.0
"""The status page (SetHandler apwsgi-status) in a real browser.

Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright
(which starts that binary: no browser of its own is ever downloaded),
with a fresh profile and no network of its own.  The page must show
its rows (the interpreters, a request in flight with its path escaped
and its stack), draw its charts once it has refreshed itself, and do it
without a console error or a failed request.  A screenshot of each run
is kept in the test's tmp_path.

The page is the same under every MPM (the counts across prefork
children are test_status.py's): it runs in the event-MPM step of `make
test` only.
"""

import pathlib
import re
import shutil
import tempfile
import threading
import time

import pytest
import requests
from playwright.sync_api import sync_playwright

import status_support as ops
import support

CHROMIUM = pathlib.Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-quic', '--no-first-run',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
# A path of markup, quotes and an ampersand: the page must show it as
# text.
PATH = '/ops/spin/<b id="injected">bold</b>&"\'quoted\''

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.is_file(),
                       reason='Debian\'s chromium is not installed '
                              '(apt-get install chromium)'),
    pytest.mark.skipif(support.MPM != 'event',
                       reason='MPM-independent: runs under event only'),
]


class Browser:
    """One headless Chromium page, and every console message, page
    error, failed request and error answer it met."""

    def __init__(self, playwright):
        self.profile = tempfile.mkdtemp(prefix='apwsgi-chromium-')
        self.console = []
        self.problems = []
        self.context = playwright.chromium.launch_persistent_context(
            self.profile, executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={'width': 1280, 'height': 900})
        self.page = self.context.new_page()
        self.page.on('console', lambda m: self.console.append(
            (m.type, m.text)))
        self.page.on('pageerror', lambda e: self.problems.append(
            'page error: %s' % e))
        self.page.on('requestfailed', lambda r: self.problems.append(
            'request failed: %s %s' % (r.url, r.failure)))
        self.page.on('response', lambda r: r.status >= 400 and
                     self.problems.append('answer %d: %s' % (r.status,
                                                             r.url)))

    def close(self):
        self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        browser = Browser(playwright)
        try:
            yield browser
        finally:
            browser.close()


class Load:
    """Requests to /ops/hello, /named/hello and a 404 in a thread, about
    20 a second, until stopped (at most 1200 requests or 60 s)."""

    def __init__(self, srv):
        self.srv = srv
        self.stopping = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        paths = ['/ops/hello'] * 6 + ['/named/hello'] * 3 + ['/ops/missing']
        deadline = time.monotonic() + 60
        with support.Client() as client:
            while self.sent < 1200 and time.monotonic() < deadline and \
                    not self.stopping.wait(0.05):
                client.get(self.srv.url(paths[self.sent % len(paths)]))
                self.sent += 1

    def stop(self):
        self.stopping.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.sent


def chart_points(page, series):
    """The (x, y) pairs each polyline of a chart draws."""
    return page.eval_on_selector_all(
        'svg.chart[data-series="%s"] polyline' % series,
        'lines => lines.map(l => l.getAttribute("points").trim()'
        '.split(/\\s+/).filter(Boolean).map(p => p.split(",").map(Number)))')


def test_page_in_chromium(make_server, browser, tmp_path):
    srv = make_server(ops.ops_config(slow_request=1))
    load = Load(srv)
    held = ops.HeldRequest(srv, requests.utils.quote(PATH, safe='/'), 'page')
    try:
        support.wait_for(lambda: any(q['stack'] for q in
                                     ops.status_json(srv)['requests']),
                         15, 'the stack of the held request')
        page = browser.page
        response = page.goto(srv.url('/status'))
        assert response.status == 200
        assert page.title() == 'apwsgi status'

        # The rows: both interpreters, the request held with its path as
        # text (no element made of it) and its stack.
        names = page.eval_on_selector_all(
            '#interpreters-table tbody tr',
            'rows => rows.map(r => r.dataset.interpreter)')
        assert names == ['(main)', 'n']
        # The held request; one of the load's may be in flight beside it.
        [req] = [q for q in ops.status_json(srv)['requests']
                 if q['path'] == PATH]
        row = page.locator('#requests-table tbody tr[data-pid="%d"]'
                           '[data-thread="%d"]' % (req['pid'],
                                                   req['thread']))
        assert row.count() == 1
        cells = row.locator('td').all_inner_texts()
        assert cells[:5] == ['GET', PATH, '(main)', str(req['pid']),
                             str(req['thread'])]
        assert re.fullmatch(r'\d+\.\d s', cells[5]), cells
        assert page.locator('#injected').count() == 0
        assert row.locator('td.path *').count() == 0
        assert 'in spin_until_released' in page.inner_text('pre.stack')
        processes = page.eval_on_selector_all(
            '#processes-table tbody tr',
            'rows => rows.map(r => r.dataset.pid)')
        assert processes == [str(req['pid'])]

        # The page refreshes itself in place; after that the charts have
        # points (one every 5 s of the server's life: two are a line).
        first = page.get_attribute('main#status', 'data-time')
        page.wait_for_function(
            'first => document.querySelector("main#status")'
            '.dataset.time !== first', arg=first, timeout=20000)
        page.wait_for_function(
            '() => [...document.querySelectorAll("svg.chart")].every('
            'c => Number(c.dataset.points) >= 2)', timeout=30000)
        assert page.locator('svg.chart').count() == 2
        throughput = chart_points(page, 'throughput')
        latency = chart_points(page, 'latency')
        assert len(throughput) == 1 and len(throughput[0]) >= 2
        assert len(latency) == 2 and all(len(line) >= 2 for line in latency)
        for line in throughput + latency:
            for x, y in line:
                assert 0 <= x <= 600 and 0 <= y <= 120, line
        # Requests were made during the charted steps: the line is not
        # flat on the floor.
        assert min(y for _, y in throughput[0]) < 116, throughput
        assert page.locator('body.stale').count() == 0

        # Still the same rows after the refresh.
        assert page.locator('#requests-table td.path').all_inner_texts() \
            == [PATH]
        page.screenshot(path=str(tmp_path / 'status-page.png'),
                        full_page=True)
    finally:
        held.release()
        load.stop()
    shot = (tmp_path / 'status-page.png').read_bytes()
    assert shot.startswith(b'\x89PNG\r\n\x1a\n') and len(shot) > 10000
    assert [text for kind, text in browser.console
            if kind in ('error', 'warning')] == []
    assert browser.problems == []
