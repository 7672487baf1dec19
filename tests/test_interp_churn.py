# SPDX-License-Identifier: Apache-2.0
"""Interpreter churn gives its memory back: names from the URL create
interpreters (/t/NAME/... runs in t-NAME; mod_wsgi.max_interpreters 32,
503 beyond; mod_wsgi.idle_timeout 1 ends them), and once every one of
them has ended, the child's RSS is back within 30 MiB of what it was
after a warm-up, beyond what CPython itself keeps.

What CPython keeps is measured, not assumed: tests/churn_probe.c does the
same with the module's Python and no Apache (bursts of 32 interpreters
alive, used by 16 threads, ended, malloc_trim).  CPython 3.11 gives nearly
all of it back; 3.12.1 and 3.13.0 keep about 80 MiB of a first burst of
32, and 200 to 300 KiB per interpreter made after it, and that is allowed
for.

- test_burst_gives_memory_back (CI): 400 distinct names, 24 at a time.
- test_churn_soak (make soak): 10,000 distinct names, then 352 more
  create/end cycles in rounds of 32; prints the RSS per round and the
  growth per cycle.

One event-MPM child with 25 threads, so 32 interpreters are alive at
once, served by many threads each: what spreads an interpreter's memory
over every thread's malloc arena.
"""

import concurrent.futures
import re
import shutil
import subprocess
import time

import pytest

import support
from ecosystem import module_python_exe

pytestmark = pytest.mark.core

MIB = 1024 * 1024
RETURN_LIMIT = 30 * MIB   # RSS after the churn settles, over the warm-up
SETTLE = 120              # seconds for every interpreter to end
WARM_UP = 4               # named interpreters made and ended first


class Kept:
    """What CPython alone keeps: `burst` bytes of a first burst of 32
    interpreters, and `each` bytes per interpreter made after it."""

    def __init__(self, burst, each):
        self.burst, self.each = burst, each

    def of(self, made):
        """Bytes kept after `made` interpreters, in bursts of 32."""
        return self.burst + max(0, made - 32) * self.each


def sanitized():
    """Whether the module under test is built with AddressSanitizer,
    whose quarantine keeps freed memory: RSS says nothing then."""
    out = subprocess.run(['ldd', str(support.MODULE)], capture_output=True,
                         text=True, timeout=60).stdout
    return 'libasan' in out


@pytest.fixture(scope='module')
def cpython_keeps():
    """What CPython alone keeps of churning interpreters (Kept), from
    tests/churn_probe.c built against the module's Python."""
    if sanitized():
        pytest.skip('the module is built with AddressSanitizer: RSS '
                    'counts its quarantine')
    python = module_python_exe()
    if python is None or not shutil.which('gcc'):
        pytest.skip("no python binary beside the module's libpython, or "
                    "no gcc, to measure CPython alone")
    facts = subprocess.run(
        [str(python), '-c', 'import sysconfig as s; print(*(s.get_config_var'
         '(v) for v in ("INCLUDEPY", "LIBDIR", "LDVERSION")))'],
        capture_output=True, text=True, check=True, timeout=60)
    include, libdir, ldversion = facts.stdout.split()
    scratch = support.scratch_dir('apwsgi-churn-')
    try:
        exe = scratch / 'churn_probe'
        subprocess.run(['gcc', '-O1', '-I', include, '-o', str(exe),
                        str(support.TESTS / 'churn_probe.c'), '-L', libdir,
                        '-lpython' + ldversion, '-lpthread',
                        '-Wl,-rpath,' + libdir], check=True, timeout=120)
        out = subprocess.run([str(exe)], capture_output=True, text=True,
                             timeout=300, env={'PATH': '/usr/bin:/bin'})
        assert out.returncode == 0, out.stderr[-2000:]
        warm, after, more = map(int, re.search(
            r'warm (\d+) after (\d+) more (\d+)', out.stdout).groups())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print('CPython alone: %.1f MiB after warm-up, %.1f MiB after a burst of '
          '32, %.1f MiB after 4 more' % (warm / 1024, after / 1024,
                                         more / 1024))
    return Kept(max(0, after - warm) * 1024,
                max(0, more - after) * 1024 // (4 * 32))


def churn_server(make_server):
    return support.start_interp_server(
        make_server,
        'RewriteEngine On',
        'RewriteRule ^/t/([a-z0-9]+)/ - [E=mod_wsgi.interpreter:t-$1,'
        'E=mod_wsgi.script_name:/t/$1]',
        support.location('^/t/', 'interp_app', match=True,
                         extra='SetEnv mod_wsgi.max_interpreters 32\n'
                               'SetEnv mod_wsgi.idle_timeout 1'),
        support.location('/main', 'interp_app'),
        threads=25, concurrent=True)


def made(srv):
    """How many named interpreters the server made so far (APW00006)."""
    return support.LogWindow(srv, 0).text().count('APW00006:')


def settle(srv):
    """Wait until every interpreter created has ended (APW00017)."""
    def ended():
        text = support.LogWindow(srv, 0).text()
        count = text.count('APW00006:')
        return count and count == text.count('APW00017:')
    support.wait_for(ended, SETTLE, 'every interpreter to end')


def request(srv, path):
    with support.Client() as client:
        return client.get(srv.url(path)).status_code


def burst(srv, names, workers=24):
    """GET /t/NAME/whoami for each name, `workers` at a time: the
    statuses."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda n: request(srv, '/t/%s/whoami' % n),
                             names))


def warm_up(srv):
    """The main interpreter and four named ones, ended again: -> pid,
    RSS."""
    with support.Client() as client:
        pid = support.get_json(client, srv, '/main/whoami')['pid']
    for i in range(WARM_UP):
        assert request(srv, '/t/warm%d/whoami' % i) == 200
    settle(srv)
    return pid, support.rss(pid)


def assert_returns(srv, pid, base, kept_by):
    """Once every interpreter ended, RSS comes back within the limit of
    what it was after warm-up plus what CPython alone keeps of as many
    interpreters (kept_by, a Kept)."""
    settle(srv)
    kept = kept_by.of(made(srv) - WARM_UP)
    bound = base + kept + RETURN_LIMIT
    try:
        support.wait_for(lambda: support.rss(pid) <= bound, 10,
                         'RSS to come back')
    except AssertionError:
        raise AssertionError(
            'RSS %.1f MiB after the churn, %.1f MiB after warm-up; CPython '
            'alone keeps %.1f MiB' % (support.rss(pid) / MIB,
                                      base / MIB, kept / MIB)) from None
    return support.rss(pid)


@pytest.mark.expect_log('APW00012')
def test_burst_gives_memory_back(make_server, cpython_keeps):
    srv = churn_server(make_server)
    pid, base = warm_up(srv)
    statuses = burst(srv, ['b%d' % i for i in range(400)])
    assert set(statuses) == {200, 503}, set(statuses)
    assert statuses.count(200) >= 32
    after = assert_returns(srv, pid, base, cpython_keeps)
    print('burst of 400 names: RSS %.1f MiB after warm-up, %.1f MiB after'
          % (base / MIB, after / MIB))


@pytest.mark.soak
@pytest.mark.expect_log('APW00012')
def test_churn_soak(make_server, cpython_keeps):
    srv = churn_server(make_server)
    pid, base = warm_up(srv)
    start = time.monotonic()
    burst_statuses = burst(srv, ['b%d' % i for i in range(10000)])
    assert set(burst_statuses) == {200, 503}, set(burst_statuses)
    after_burst = assert_returns(srv, pid, base, cpython_keeps)
    series = []
    for r in range(11):
        statuses = burst(srv, ['c%dx%d' % (r, i) for i in range(32)], 16)
        assert statuses == [200] * 32, statuses
        settle(srv)
        series.append(support.rss(pid))
    half = len(series) // 2
    print('10,000 names: %d served, RSS %.1f MiB after warm-up, %.1f MiB '
          'once ended (%.0f s)' % (burst_statuses.count(200), base / MIB,
                                   after_burst / MIB,
                                   time.monotonic() - start))
    print('352 cycles, RSS per round of 32 (MiB): %s'
          % ' '.join('%.1f' % (v / MIB) for v in series))
    print('growth: %.1f KiB/cycle over all, %.1f KiB/cycle over the last '
          'half' % ((series[-1] - after_burst) / 352 / 1024,
                    (series[-1] - series[half]) / ((len(series) - half - 1)
                                                   * 32) / 1024))
    bound = base + cpython_keeps.of(made(srv) - WARM_UP) + RETURN_LIMIT
    assert series[-1] <= bound, (series, bound)
