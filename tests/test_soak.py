# SPDX-License-Identifier: Apache-2.0
"""Soak: load and faults, with figures.

Run with `make soak` (pytest -m soak); not part of the default run.  Each
part is bounded in time (at most a few minutes, about 5 in all on a
2-core machine) and writes its figures to tests/figures/soak.json and
soak.md, which docs/reliability.rst quotes:

- test_mixed_workload: 200,000 requests (after a warm-up of 60,000) of
  hello, 64 KiB, 1 MiB POST, error, write() and file_wrapper requests in
  two interpreters; no failure, RSS growth per child and live objects per
  interpreter; with glibc's malloc as it is and with MALLOC_ARENA_MAX=2.
- test_graceful_restarts_vs_ceiling: five graceful restarts under load,
  apwsgi and Apache's own minimal C handler (bench/ceiling) served by the
  same server to the same clients; failures of each, and no request that
  reached the application lost.
- test_max_connections_per_child: children recycled under load, no
  failure.
- test_sigkill_child: a child killed mid-load; Apache replaces it, only
  its requests fail.
- test_no_growth_over_many_requests / _errors: one process, RSS over
  many requests of every response path.

The load comes from tests/loadgen.py (worker processes, keep-alive, every
answer checked exactly, nothing retried).
"""

import datetime
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import time

import pytest

import harness
import loadgen
import support
from apwsgi.apache import find_apache

# The error requests of the loads log APW00301 on purpose.
pytestmark = [pytest.mark.soak, pytest.mark.expect_log('APW00301')]

WARMUP = 1500
ROUNDS = 6000
GROWTH_LIMIT = 8 * 1024 * 1024   # bytes of RSS over ROUNDS requests

FIGURES = support.TESTS / 'figures'
MIB = 1024 * 1024


def soak_config(state):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        loc('/env', 'environ_app'),
        loc('/named', 'state_app', interpreter='soak'),
        loc('/input', 'input_app', interpreter='soak'),
        loc('/response', 'response_app'),
        loc('/errors', 'errors_app', interpreter='soak'),
    ])


def mixed_requests(client, srv, count, body):
    for i in range(count):
        kind = i % 5
        if kind == 0:
            r = client.get(srv.url('/env/x?a=%d' % i),
                           headers={'X-Soak': 'v' * 100})
        elif kind == 1:
            r = client.get(srv.url('/named/whoami'))
        elif kind == 2:
            r = client.post(srv.url('/input/readline'), data=body)
        elif kind == 3:
            r = client.get(srv.url('/response/generator'))
        else:
            r = client.get(srv.url('/response/list?n=20'))
        assert r.status_code == 200, (i, r.status_code)


def test_no_growth_over_many_requests(make_server):
    srv = make_server(soak_config, log_level='warn', processes=1)
    body = b'line\n' * 200
    with support.Client() as client:
        pid = client.get(srv.url('/named/whoami')).json()['pid']
        mixed_requests(client, srv, WARMUP, body)
        before = support.rss(pid)
        mixed_requests(client, srv, ROUNDS, body)
        after = support.rss(pid)
        assert client.get(srv.url('/named/whoami')).json()['pid'] == pid
    assert after - before < GROWTH_LIMIT, (before, after)


def test_no_growth_over_many_errors(make_server):
    srv = make_server(soak_config, log_level='crit', processes=1)
    with support.Client() as client:
        pid = client.get(srv.url('/named/whoami')).json()['pid']
        def errors(count):
            for _ in range(count):
                r = client.get(srv.url('/errors/raise'))
                assert r.status_code == 500
        errors(300)
        before = support.rss(pid)
        errors(1500)
        assert client.get(srv.url('/named/whoami')).json()['pid'] == pid
    assert support.rss(pid) - before < GROWTH_LIMIT


# ---- load and faults, with figures ----

K = loadgen.Kind
HELLO = b'Hello world!'
MIXED_KINDS = [K('hello', '/soak/hello', body=HELLO),
               K('hello-named', '/soak-named/hello', body=HELLO),
               K('64k', '/soak/64k', length=65536),
               K('post-1mib', '/soak-named/post', method='POST', upload=MIB,
                 echo_sha=True),
               K('error', '/soak/error', status=500),
               K('write', '/soak-named/write', body=b'wr!'),
               K('file', '/soak/file', body=b'f' * 8192)]
MIXED_WEIGHTS = [58, 10, 18, 2, 6, 3, 3]
MIXED_TOTAL = 200_000           # measured, after the warm-up
MIXED_WARMUP = 60_000
RSS_LIMIT = 5 * MIB             # growth per child after warm-up
OBJECT_LIMIT = 100              # growth of live objects per interpreter
WORKERS = 4


def ceiling_module():
    path = pathlib.Path(os.environ.get('APWSGI_CEILING_MODULE') or
                        support.REPO / 'build' / 'mod_ceiling.so')
    if not path.is_file():
        build = subprocess.run(['make', '--no-print-directory', 'ceiling'],
                               cwd=support.REPO, capture_output=True,
                               text=True, timeout=300)
        assert build.returncode == 0, build.stdout + build.stderr
    return path.resolve()


def workload_config(state, extra=''):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        'LoadModule ceiling_module "%s"' % ceiling_module(),
        '<Location /ceiling>',
        '    SetHandler ceiling',
        '</Location>',
        loc('/soak', 'soak_app'),
        loc('/soak-named', 'soak_app', interpreter='soak'),
        extra,
    ])


def soak_server(*, processes=None, extra='', env=None):
    """A server for one soak part (its log checked after the test)."""
    if processes is None:
        processes = 4 if support.MPM == 'prefork' else 2
    return harness.running(lambda state: workload_config(state, extra),
                           processes=processes, env=env, log_level='error')


def probe_objects(srv, children):
    """{(pid, interpreter): (live objects, allocated blocks)} for every
    child and both interpreters: new connections until each was seen."""
    want = {(pid, name) for pid in children for name in ('', 'soak')}
    found = {}
    for _ in range(50 * len(want)):
        if want <= set(found):
            break
        with support.Client() as client:
            for mount in ('/soak', '/soak-named'):
                info = client.get(srv.url(mount + '/gc')).json()
                found[(info['pid'], info['interpreter'])] = (
                    info['objects'], info['blocks'])
    missing = want - set(found)
    assert not missing, 'never reached %s' % sorted(missing)
    return found


def seen_pids(srv):
    """Pids of the children whose soak_app recorded a request."""
    return {int(path.name.split('-')[1])
            for path in srv.state_dir.glob('seen-*')}


def seen_ids(srv):
    """{request id: pid} of every request that reached soak_app."""
    seen = {}
    for path in srv.state_dir.glob('seen-*'):
        pid = int(path.name.split('-')[1])
        for line in path.read_text().splitlines():
            seen[line] = pid
    return seen


@pytest.fixture(scope='module')
def figures():
    """Figures of the parts run now, merged into tests/figures/ at the
    end (parts not run keep their earlier figures)."""
    measured = {}
    yield measured
    if not measured:
        return
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / 'soak.json'
    data = json.loads(path.read_text()) if path.exists() else {}
    for part, values in measured.items():
        values['machine'] = machine()
        data[part] = values
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + '\n')
    (FIGURES / 'soak.md').write_text(markdown(data))


def machine():
    apache = subprocess.run([find_apache(), '-v'],
                            capture_output=True, text=True).stdout
    return {'date': datetime.date.today().isoformat(),
            'cpus': os.cpu_count(), 'mpm': support.MPM,
            'apache': re.search(r'Apache/\S+', apache).group(0),
            'python': support.module_python()[0],
            'kernel': platform.release()}


def markdown(data):
    """tests/figures/soak.md: the figures as docs/reliability.rst quotes
    them."""
    out = ['# Soak figures (`make soak`)', '',
           'Written by tests/test_soak.py; see docs/reliability.rst.', '']
    for part in sorted(p for p in data if p.startswith('mixed ')):
        m = data[part]
        out += ['## Mixed workload, %s (%s MPM, %d children of %d '
                'threads)' % (m['allocator'], m['machine']['mpm'],
                              len(m['rss_before']),
                              1 if m['machine']['mpm'] == 'prefork'
                              else 25), '',
                '%d requests in %.0f s (%d/s), %d failed, measured after '
                'a warm-up of %d requests%s.' % (
                    m['load']['requests'], m['load']['seconds'],
                    m['load']['rate'], m['load']['failed'], m['warmup'],
                    ''.join(' (%s=%s in Apache\'s environment)' % kv
                            for kv in m['env'].items())),
                '', '| kind | requests | failed | p50 ms | p99 ms |',
                '|---|---|---|---|---|']
        for name, k in m['load']['kinds'].items():
            out.append('| %s | %d | %d | %s | %s |' % (
                name, k['sent'], k['failed'], k['p50_ms'], k['p99_ms']))
        out += ['', '| child | RSS after warm-up | RSS at the end | growth |',
                '|---|---|---|---|']
        for pid, before in sorted(m['rss_before'].items()):
            after = m['rss_after'][pid]
            out.append('| %s | %.1f MiB | %.1f MiB | %+.2f MiB |' % (
                pid, before / MIB, after / MIB, (after - before) / MIB))
        out += ['', '| child, interpreter | live objects after warm-up | '
                'at the end | allocated blocks after warm-up | at the end |',
                '|---|---|---|---|---|']
        for key, before in sorted(m['objects_before'].items()):
            after = m['objects_after'][key]
            out.append('| %s | %d | %d | %d | %d |' % (
                key, before[0], after[0], before[1], after[1]))
        out.append('')
    g = data.get('graceful')
    if g:
        out += ['## Five graceful restarts under load (%s MPM)' %
                g['machine']['mpm'], '',
                '| handler | requests | failed | reached the app, then '
                'failed |', '|---|---|---|---|',
                '| apwsgi | %d | %d | %d |' % (
                    g['apwsgi']['sent'], g['apwsgi']['failed'], g['lost']),
                '| mod_ceiling (C) | %d | %d | - |' % (
                    g['ceiling']['sent'], g['ceiling']['failed']),
                '', 'Failure reasons: apwsgi %s; mod_ceiling %s.' % (
                    g['apwsgi']['reasons'] or 'none',
                    g['ceiling']['reasons'] or 'none'), '']
    r = data.get('recycling')
    if r:
        out += ['## MaxConnectionsPerChild %d under load (%s MPM)' % (
                    r['max_connections_per_child'], r['machine']['mpm']), '',
                '%d requests, one connection each, %d failed; %d children '
                'served them.' % (r['load']['requests'], r['load']['failed'],
                                  r['children']), '']
    k = data.get('sigkill')
    if k:
        out += ['## A child killed with SIGKILL mid-load (%s MPM)' %
                k['machine']['mpm'], '',
                '%d requests from %d clients, %d failed (%d of them had '
                'reached the application in the killed child); the child '
                'was replaced in %.2f s.' % (
                    k['load']['requests'], k['workers'], k['load']['failed'],
                    k['reached_app'], k['replaced_after']), '']
    return '\n'.join(out)


ALLOCATORS = {
    # glibc as Debian ships it: one malloc arena per thread, up to 8 per
    # core.  Freed memory stays in the arena of the thread that used it.
    'glibc-defaults': {},
    # The common advice for threaded Python servers: two arenas.
    'malloc-arena-max-2': {'MALLOC_ARENA_MAX': '2'},
}


@pytest.mark.parametrize('allocator', sorted(ALLOCATORS))
def test_mixed_workload(figures, allocator):
    """200,000 requests after a warm-up of 60,000, no failure; each
    child's RSS grows by less than 5 MiB and each interpreter's live
    objects stay put.  Run with glibc's defaults and with
    MALLOC_ARENA_MAX=2 (docs/reliability.rst: with the defaults the
    RSS of a 25-thread child keeps creeping up, arena by arena)."""
    with soak_server(env=ALLOCATORS[allocator]) as srv:
        warm = loadgen.run(srv, MIXED_KINDS, MIXED_WEIGHTS, workers=WORKERS,
                           count=MIXED_WARMUP, seconds=120)
        assert warm.failed() == 0, warm.summary()
        children = srv.child_pids()
        objects_before = probe_objects(srv, children)
        rss_before = {pid: support.rss(pid) for pid in children}
        result = loadgen.run(srv, MIXED_KINDS, MIXED_WEIGHTS,
                             workers=WORKERS, count=MIXED_TOTAL,
                             seconds=280)
        rss_after = {pid: support.rss(pid) for pid in children}
        objects_after = probe_objects(srv, children)
        assert srv.child_pids() == children, 'children were replaced'
    figures['mixed ' + allocator] = {
        'allocator': allocator, 'env': ALLOCATORS[allocator],
        'warmup': warm.total, 'warmup_seconds': round(warm.seconds, 1),
        'load': result.summary(),
        'rss_before': {str(p): v for p, v in rss_before.items()},
        'rss_after': {str(p): v for p, v in rss_after.items()},
        'objects_before': {'%d %s' % (p, n or 'main'): v
                           for (p, n), v in objects_before.items()},
        'objects_after': {'%d %s' % (p, n or 'main'): v
                          for (p, n), v in objects_after.items()}}
    assert result.total == MIXED_TOTAL, 'time ran out: %r' % (
        result.summary(),)
    assert result.failed() == 0, result.summary()
    for key, (objects, _) in objects_before.items():
        assert objects_after[key][0] - objects <= OBJECT_LIMIT, (
            key, objects, objects_after[key])
    for pid in children:
        assert rss_after[pid] - rss_before[pid] < RSS_LIMIT, (
            pid, rss_before[pid], rss_after[pid])


GRACEFUL_RESTARTS = 5
GRACEFUL_SECONDS = 45


def test_graceful_restarts_vs_ceiling(figures):
    """Five graceful restarts under a bounded load that alternates, on the
    same connections, between apwsgi and Apache's own C handler.  Event
    MPM itself drops a few keep-alive connections at each restart, and a
    dropped connection fails whichever request comes next, so both
    handlers share those failures at random: apwsgi must not fail more
    than the C handler beyond that chance (3 standard deviations of the
    split), and no request that reached the application may be lost."""
    kinds = [K('apwsgi', '/soak/hello', body=HELLO),
             K('ceiling', '/ceiling', body=HELLO)]
    with soak_server() as srv:
        load = loadgen.start(srv, kinds, [1, 1], workers=WORKERS,
                             count=10_000_000, seconds=GRACEFUL_SECONDS)
        pause = GRACEFUL_SECONDS / (GRACEFUL_RESTARTS + 2)
        began = time.monotonic()
        restarts = []
        for i in range(GRACEFUL_RESTARTS):
            time.sleep(max(0.0, began + pause * (i + 1) - time.monotonic()))
            start = time.monotonic()
            srv.graceful()
            restarts.append(round(time.monotonic() - start, 2))
        result = load.wait()
        seen = seen_ids(srv)
        with support.Client() as client:
            assert client.get(srv.url('/soak/hello')).content == HELLO
    summary = result.summary()
    lost = [i for i in result.failed_ids('apwsgi') if i in seen]
    a, c = result.failed('apwsgi'), result.failed('ceiling')
    figures['graceful'] = {'restarts': GRACEFUL_RESTARTS,
                           'restart_seconds': restarts,
                           'apwsgi': summary['kinds']['apwsgi'],
                           'ceiling': summary['kinds']['ceiling'],
                           'lost': len(lost), 'seconds': summary['seconds']}
    assert len(restarts) == GRACEFUL_RESTARTS
    assert lost == [], 'requests that reached the application were lost'
    assert a - c <= 3 * math.sqrt(a + c) + 1, (a, c, summary)


MAX_CONNECTIONS = 300
RECYCLE_REQUESTS = 15_000


def test_max_connections_per_child(figures):
    """Children end after MaxConnectionsPerChild connections and Apache
    starts new ones, all under load (one request per connection): no
    request fails."""
    kinds = [K('hello', '/soak/hello', body=HELLO),
             K('hello-named', '/soak-named/hello', body=HELLO),
             K('64k', '/soak/64k', length=65536)]
    extra = 'MaxConnectionsPerChild %d' % MAX_CONNECTIONS
    with soak_server(extra=extra) as srv:
        result = loadgen.run(srv, kinds, [6, 2, 2], workers=WORKERS,
                             count=RECYCLE_REQUESTS, seconds=240,
                             keepalive=False)
        children = seen_pids(srv)
    figures['recycling'] = {'max_connections_per_child': MAX_CONNECTIONS,
                            'load': result.summary(),
                            'children': len(children)}
    assert result.total == RECYCLE_REQUESTS, result.summary()
    assert result.failed() == 0, result.summary()
    assert len(children) >= RECYCLE_REQUESTS // MAX_CONNECTIONS // 2, \
        'children were not recycled: %d' % len(children)


KILL_WORKERS = 8
KILL_SECONDS = 20


def test_sigkill_child(figures):
    """SIGKILL one child in the middle of a bounded load: Apache starts a
    new one, and only the requests on the killed child's connections
    fail (at most one per client connection: KILL_WORKERS)."""
    kinds = [K('hello', '/soak/hello', body=HELLO),
             K('64k', '/soak/64k', length=65536)]
    with soak_server() as srv:
        load = loadgen.start(srv, kinds, [8, 2], workers=KILL_WORKERS,
                             count=10_000_000, seconds=KILL_SECONDS)
        support.wait_for(lambda: seen_pids(srv) >= set(srv.child_pids()),
                         timeout=KILL_SECONDS / 2,
                         what='every child serving')
        before = set(srv.child_pids())
        victim = min(before)
        srv.kill_child(victim)
        killed_at = time.monotonic()
        new = support.wait_for(lambda: set(srv.child_pids()) - before,
                               timeout=KILL_SECONDS / 2,
                               what='a child replacing %d' % victim)
        replaced_after = time.monotonic() - killed_at
        result = load.wait()
        seen = seen_ids(srv)
        with support.Client() as client:
            assert client.get(srv.url('/soak/hello')).content == HELLO
    failed_ids = result.failed_ids()
    reached = [i for i in failed_ids if i in seen]
    figures['sigkill'] = {'workers': KILL_WORKERS, 'load': result.summary(),
                          'reached_app': len(reached),
                          'replaced_after': round(replaced_after, 2),
                          'new_child': sorted(new)}
    assert result.failed() <= KILL_WORKERS, result.summary()
    assert all(seen[i] == victim for i in reached), \
        'a request failed on a child that was not killed'
