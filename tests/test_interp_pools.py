# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.interpreters N: a pool of interpreters NAME#0 .. NAME#N-1.

A request goes to an idle existing member first, else to a member not
created yet, else to the least busy one.  Concurrent requests are held
together by a barrier (interp_app's /barrier waits until N requests
arrived), so which member each one got is deterministic.  Also here:
the values every interpreter key accepts (APW00106 .. APW00110).

Each test starts its own single-process server: pools are per process.
Tests with concurrent requests use the event MPM, the others APWSGI_MPM.
"""

import collections
import concurrent.futures

import pytest

import support

pytestmark = pytest.mark.core

SPIN_ROUNDS = 20


own_gil_supported = support.own_gil_supported


def loc(path, app='interp_app', interpreter=None, **keys):
    """A Location; keys become `SetEnv mod_wsgi.KEY VALUE` lines."""
    extra = '\n'.join('SetEnv mod_wsgi.%s %s' % item
                      for item in keys.items())
    return support.location(path, app, interpreter=interpreter, extra=extra)


start = support.start_interp_server
get = support.get_json


def concurrent_get(srv, paths):
    """GET every path at once, each on its own connection; JSON answers
    in the order of paths."""
    def one(path):
        with support.Client() as client:
            return get(client, srv, path)
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(one, paths))


def barrier_round(srv, path, n):
    """n concurrent /barrier requests that wait for each other."""
    name = 'barrier-' + support.token()
    return concurrent_get(srv, ['%s/barrier?dir=%s&n=%d' % (path, name, n)]
                          * n)


def created(log, name):
    return log.tagged('APW00006', "created interpreter '%s' " % name)


def test_sequential_requests_reuse_first_member(make_server):
    srv = start(make_server, loc('/pool', interpreter='seq', interpreters=3))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        out = [get(client, srv, '/pool/whoami') for _ in range(5)]
    assert [r['interpreter'] for r in out] == ['seq#0'] * 5
    assert [r['counter'] for r in out] == [1, 2, 3, 4, 5]
    assert len(created(log, 'seq#0')) == 1
    assert created(log, 'seq#1') == created(log, 'seq#2') == []


def test_concurrent_requests_spread_over_members(make_server):
    srv = start(make_server, loc('/pool', interpreter='spread',
                                 interpreters=3), concurrent=True)
    log = support.LogWindow(srv, 0)
    first = barrier_round(srv, '/pool', 3)
    assert sorted(r['interpreter'] for r in first) == \
        ['spread#0', 'spread#1', 'spread#2']
    assert len({r['pid'] for r in first}) == 1
    # Members are separate interpreters.
    assert len({r['interp'] for r in first}) == 3
    assert len({r['modules_id'] for r in first}) == 3
    for i in range(3):
        lines = created(log, 'spread#%d' % i)
        assert len(lines) == 1, lines
        assert "(shared GIL) for /pool/barrier" in lines[0]
    # Idle members exist now: one request at a time goes to the first.
    with support.Client() as client:
        again = [get(client, srv, '/pool/whoami') for _ in range(3)]
    assert [r['interpreter'] for r in again] == ['spread#0'] * 3
    # Four at once on three members: one each, the fourth to the least
    # busy (the first of equals).
    second = barrier_round(srv, '/pool', 4)
    assert collections.Counter(r['interpreter'] for r in second) == {
        'spread#0': 2, 'spread#1': 1, 'spread#2': 1}
    assert log.tagged('APW00006') == log.tagged('APW00006', "'spread#")
    assert len(log.tagged('APW00006')) == 3


def test_pool_of_own_gil_members(make_server):
    """With mod_wsgi.gil own (3.12+) the members of one pool run Python at
    the same time: two GIL-holding requests play ping-pong (see
    interp_spin).  On 3.11 the members share the GIL (one APW00014 per
    member) and cannot."""
    srv = start(make_server, loc('/pool', 'interp_spin', interpreter='pg',
                                 interpreters=2, gil='own'), concurrent=True)
    log = support.LogWindow(srv, 0)
    shared = srv.state_dir / ('pingpong-' + support.token())
    shared.write_bytes(b'\0' * 4096)
    shared.chmod(0o666)
    timeout = 8.0 if own_gil_supported() else 1.5
    out = concurrent_get(srv, [
        '/pool/pingpong?file=%s&side=%d&rounds=%d&timeout=%s'
        % (shared.name, side, SPIN_ROUNDS, timeout) for side in (0, 1)])
    assert sorted(r['interpreter'] for r in out) == ['pg#0', 'pg#1']
    mode = 'own' if own_gil_supported() else 'shared'
    for member in ('pg#0', 'pg#1'):
        lines = created(log, member)
        assert len(lines) == 1, lines
        assert '(%s GIL)' % mode in lines[0], lines[0]
        warnings = log.tagged('APW00014', "'%s'" % member)
        assert len(warnings) == (0 if own_gil_supported() else 1), warnings
    if own_gil_supported():
        assert [r['done'] for r in out] == [True, True], out
    else:
        assert [r['done'] for r in out] == [False, False], out


@pytest.mark.expect_log('APW00112')
def test_pool_needs_a_name(make_server):
    srv = start(make_server, loc('/pool', interpreters=2))
    with support.Client() as client:
        get(client, srv, '/pool/whoami', status=500)
    lines = support.LogWindow(srv, 0).tagged('APW00112')
    assert len(lines) == 1, lines
    assert 'mod_wsgi.interpreters for /pool/whoami needs a pool name: ' \
           'set mod_wsgi.interpreter too' in lines[0]


BAD_VALUES = [
    ('interpreters', '0', 'APW00106', 'is not a whole number from 1 to 64'),
    ('interpreters', '65', 'APW00106', 'is not a whole number from 1 to 64'),
    ('interpreters', 'two', 'APW00106', 'is not a whole number from 1 to 64'),
    ('gil', 'exclusive', 'APW00107', "must be 'own' or 'shared'"),
    ('reload', 'yes', 'APW00108', "must be 'on' or 'off'"),
    ('max_interpreters', '0', 'APW00109',
     'is not a whole number from 1 to 1000'),
    ('max_interpreters', '1001', 'APW00109',
     'is not a whole number from 1 to 1000'),
    ('idle_timeout', '-1', 'APW00110',
     'is not a whole number from 0 to 86400'),
    ('idle_timeout', '86401', 'APW00110',
     'is not a whole number from 0 to 86400'),
    ('idle_timeout', '1.5', 'APW00110',
     'is not a whole number from 0 to 86400'),
]

GOOD_VALUES = [('interpreters', '1'), ('interpreters', '64'),
               ('gil', 'shared'), ('gil', 'own'), ('reload', 'off'),
               ('reload', 'on'), ('max_interpreters', '1'),
               ('max_interpreters', '1000'), ('idle_timeout', '0'),
               ('idle_timeout', '86400')]


@pytest.mark.expect_log('APW00106', 'APW00107', 'APW00108', 'APW00109',
                        'APW00110')
def test_interpreter_key_values(make_server):
    """Each bad value: 500 and one line with its tag naming key, value and
    URI; no interpreter is created.  The bounds themselves are accepted."""
    blocks = [loc('/bad/%d' % i, interpreter='bad%d' % i, **{key: value})
              for i, (key, value, _, _) in enumerate(BAD_VALUES)]
    # Accepted values in the main interpreter (so that max_interpreters 1
    # does not refuse a new name), pools under a name of their own.
    blocks += [loc('/good/%d' % i, interpreter=(
                       'good%d' % i if key == 'interpreters' else None),
                   **{key: value})
               for i, (key, value) in enumerate(GOOD_VALUES)]
    srv = start(make_server, *blocks)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        for i, (key, value, tag, why) in enumerate(BAD_VALUES):
            window = support.LogWindow(srv)
            get(client, srv, '/bad/%d/x' % i, status=500)
            lines = window.tagged(tag)
            assert len(lines) == 1, (key, value, lines)
            assert "mod_wsgi.%s '%s' for /bad/%d/x %s" % (
                key, value, i, why) in lines[0], lines[0]
            assert ':error]' in lines[0]
        for i, (key, value) in enumerate(GOOD_VALUES):
            out = get(client, srv, '/good/%d/whoami' % i)
            expect = '' if key != 'interpreters' else 'good%d%s' % (
                i, '' if value == '1' else '#0')
            assert out['interpreter'] == expect, (key, value, out)
    assert log.tagged('APW00006', "'bad") == []
