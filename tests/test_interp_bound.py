# SPDX-License-Identifier: Apache-2.0
"""A bound on named interpreters (mod_wsgi.max_interpreters), their end
when idle (mod_wsgi.idle_timeout), and the end of interpreters whose
application failed to load.

Interpreter names come from the URL through mod_rewrite (/t/NAME/... runs
in interpreter t-NAME), as in the attack the bound is for.  Each test
starts its own single-process server, under APWSGI_MPM; the ones with
concurrent requests use the event MPM.
"""

import collections
import concurrent.futures
import re

import pytest

import support

pytestmark = pytest.mark.core


def loc(path, app='interp_app', interpreter=None, **keys):
    """A Location; keys become `SetEnv mod_wsgi.KEY VALUE` lines."""
    extra = '\n'.join('SetEnv mod_wsgi.%s %s' % item
                      for item in keys.items())
    return support.location(path, app, interpreter=interpreter, extra=extra)


def by_url(**keys):
    """/t/NAME/... -> interpreter t-NAME, SCRIPT_NAME /t/NAME."""
    extra = '\n'.join('SetEnv mod_wsgi.%s %s' % item
                      for item in keys.items())
    return '\n'.join([
        'RewriteEngine On',
        'RewriteRule ^/t/([a-z0-9]+)/ - [E=mod_wsgi.interpreter:t-$1,'
        'E=mod_wsgi.script_name:/t/$1]',
        support.location('^/t/', 'interp_app', match=True, extra=extra)])


start = support.start_interp_server
get = support.get_json


def bound_lines(log, name):
    return log.tagged('APW00012', "interpreter '%s' for " % name)


# ---- the bound ----

@pytest.mark.expect_log('APW00012')
def test_bound_refuses_new_names_with_503(make_server):
    srv = start(make_server, by_url(max_interpreters=2),
                loc('/main', max_interpreters=2))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        one = get(client, srv, '/t/one/whoami')
        two = get(client, srv, '/t/two/whoami')
        assert (one['interpreter'], two['interpreter']) == ('t-one', 't-two')
        get(client, srv, '/t/three/whoami', status=503)
        lines = bound_lines(log, 't-three')
        assert len(lines) == 1, lines
        assert ':error]' in lines[0]
        assert "interpreter 't-three' for /t/three/whoami not created: " \
               "this process already has 2 named interpreters " \
               "(mod_wsgi.max_interpreters)" in lines[0], lines[0]
        # The existing ones keep serving, the main one is not counted.
        again = [get(client, srv, p) for p in
                 ('/t/one/whoami', '/t/two/whoami', '/main/whoami')]
        assert [r['interpreter'] for r in again] == ['t-one', 't-two', '']
        assert [r['counter'] for r in again] == [2, 2, 1]
        assert again[0]['interp'] == one['interp']
        # Each refused request: one line.
        get(client, srv, '/t/three/whoami', status=503)
        get(client, srv, '/t/four/whoami', status=503)
    assert len(bound_lines(log, 't-three')) == 2
    assert len(bound_lines(log, 't-four')) == 1
    assert len(log.tagged('APW00012')) == 3
    assert log.tagged('APW00006', "'t-three'") == []


@pytest.mark.expect_log('APW00012')
def test_default_bound_is_32(make_server):
    srv = start(make_server, by_url())
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        for i in range(32):
            out = get(client, srv, '/t/n%d/whoami' % i)
            assert out['interpreter'] == 't-n%d' % i
        get(client, srv, '/t/n32/whoami', status=503)
        assert get(client, srv, '/t/n0/whoami')['counter'] == 2
    lines = bound_lines(log, 't-n32')
    assert len(lines) == 1, lines
    assert 'already has 32 named interpreters' in lines[0]


def barrier_round(srv, path, n):
    name = 'barrier-' + support.token()

    def one(_):
        with support.Client() as client:
            return get(client, srv, '%s/barrier?dir=%s&n=%d' % (path, name,
                                                                  n))
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.expect_log('APW00012')
def test_bound_counts_pool_members(make_server):
    srv = start(make_server, by_url(max_interpreters=3),
                loc('/pool', interpreter='pp', interpreters=2,
                    max_interpreters=3), concurrent=True)
    log = support.LogWindow(srv, 0)
    members = barrier_round(srv, '/pool', 2)
    assert sorted(r['interpreter'] for r in members) == ['pp#0', 'pp#1']
    with support.Client() as client:
        assert get(client, srv, '/t/x/whoami')['interpreter'] == 't-x'
        get(client, srv, '/t/y/whoami', status=503)
    lines = log.tagged('APW00012')
    assert len(lines) == 1 and "'t-y'" in lines[0], lines
    assert 'already has 3 named interpreters' in lines[0]


def test_pool_at_the_bound_shares_busy_members(make_server):
    """A pool that may not grow sends a request to a busy member rather
    than answering 503."""
    srv = start(make_server, loc('/pool', interpreter='big', interpreters=4,
                                 max_interpreters=2), concurrent=True)
    log = support.LogWindow(srv, 0)
    out = barrier_round(srv, '/pool', 3)
    assert collections.Counter(r['interpreter'] for r in out) == {
        'big#0': 2, 'big#1': 1}
    assert log.tagged('APW00012') == []
    assert log.tagged('APW00006', "'big#2'") == []


@pytest.mark.expect_log('APW00201', 'APW00012')
def test_failed_application_does_not_hold_a_place(make_server):
    """An interpreter whose application failed to load is ended (by the
    reaper, within about a second), so it no longer counts: with a bound
    of 1 another name can then be created, and after that the failing
    name is refused like any new one."""
    srv = start(make_server,
                loc('/broken', 'import_error_app', interpreter='broken',
                    max_interpreters=1),
                loc('/ok', interpreter='ok', max_interpreters=1))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        get(client, srv, '/broken/x', status=500)
        assert log.tagged('APW00201', '/broken/x')
        assert 'import_error_app fails to import on purpose' in log.text()
        ended = log.wait("ended interpreter 'broken' (replaced, or left "
                         "without an application)", tag='APW00017',
                         timeout=10)
        assert len(ended) == 1 and ':info]' in ended[0], ended
        assert get(client, srv, '/ok/whoami')['interpreter'] == 'ok'
        get(client, srv, '/broken/x', status=503)
    assert len(log.tagged('APW00006', "'broken'")) == 1
    lines = log.tagged('APW00012')
    assert len(lines) == 1 and "'broken'" in lines[0], lines
    assert log.tagged('APW00012', "'ok'") == []


# ---- idle eviction ----

def test_idle_interpreter_is_ended_and_recreated(make_server):
    srv = start(make_server,
                loc('/idle', interpreter='idle', idle_timeout=1),
                loc('/keep', interpreter='keep'),
                loc('/main', idle_timeout=1))
    log = support.LogWindow(srv, 0)
    state = srv.state_dir
    with support.Client() as client:
        first = get(client, srv, '/idle/atexit?file=idle-atexit')
        keep = get(client, srv, '/keep/atexit?file=keep-atexit')
        get(client, srv, '/main/atexit?file=main-atexit')
        # Its atexit handlers ran when it ended.
        assert support.wait_file(state / 'idle-atexit', timeout=10) == 'idle'
        lines = log.wait("ended interpreter 'idle' (idle past "
                         "mod_wsgi.idle_timeout)", tag='APW00017')
        assert len(lines) == 1 and ':info]' in lines[0], lines
        # The next request creates it anew.
        later = get(client, srv, '/idle/whoami')
        assert later['interpreter'] == 'idle'
        assert later['counter'] == 1
        assert later['interp'] != first['interp']
        assert len(log.tagged('APW00006', "'idle'")) == 2
        # Without an idle timeout, or in main: not ended.
        again = get(client, srv, '/keep/whoami')
        assert (again['interp'], again['counter']) == (keep['interp'], 2)
        assert get(client, srv, '/main/whoami')['counter'] == 2
    assert not (state / 'keep-atexit').exists()
    assert not (state / 'main-atexit').exists()
    assert log.tagged('APW00017', "'keep'") == []


def test_busy_interpreter_is_not_idle(make_server):
    """A request longer than the idle timeout does not get its interpreter
    ended under it, and the idle time counts from its end."""
    srv = start(make_server, loc('/idle', interpreter='busy', idle_timeout=2))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        first = get(client, srv, '/idle/atexit?file=busy-atexit')
        slow = get(client, srv, '/idle/sleep?s=2.5')
        right_after = get(client, srv, '/idle/whoami')
    assert [r['interp'] for r in (slow, right_after)] == [first['interp']] * 2
    assert [r['counter'] for r in (first, slow, right_after)] == [1, 2, 3]
    assert log.tagged('APW00017') == []
    assert support.wait_file(srv.state_dir / 'busy-atexit',
                             timeout=10) == 'busy'
    log.wait("ended interpreter 'busy' (idle past mod_wsgi.idle_timeout)",
             tag='APW00017')


# ---- the threads that ran an interpreter outlive it ----

@pytest.mark.expect_log('APW00201')
@pytest.mark.parametrize('end', ['idle', 'failed'])
def test_worker_thread_serves_on_after_its_interpreter_ended(make_server,
                                                             end):
    """With one worker thread, the thread that created and last ran an
    interpreter serves the next request after the reaper ended that
    interpreter (idle, or left without an application): nothing of the
    ended interpreter may still be used by the thread.  (A connection
    per request: with one worker, the event MPM may close idle
    keep-alive connections.)"""
    srv = start(make_server,
                loc('/gone', 'interp_app' if end == 'idle' else
                    'import_error_app', interpreter='gone', idle_timeout=1),
                loc('/main'), loc('/other', interpreter='other'),
                threads=1)
    log = support.LogWindow(srv, 0)
    why = ('idle past mod_wsgi.idle_timeout' if end == 'idle' else
           'replaced, or left without an application')

    def fresh_get(path, status=200):
        with support.Client() as client:
            return get(client, srv, path, status)
    for cycle in range(1, 3):
        fresh_get('/gone/whoami', status=200 if end == 'idle' else 500)
        support.wait_for(
            lambda cycle=cycle: len(log.tagged('APW00017', "'gone' (%s)"
                                               % why)) == cycle,
            10, 'APW00017 for gone, cycle %d' % cycle)
        assert fresh_get('/main/whoami')['counter'] == cycle
        assert fresh_get('/other/whoami')['counter'] == cycle


# ---- the application's threads when its interpreter ends ----

def test_idle_end_does_not_wait_for_a_thread_that_never_ends(make_server):
    """An idle interpreter whose application runs a non-daemon thread that
    does not end is left alive once GracefulShutdownTimeout (2 s) has
    passed, and logged once with the thread's name and stack; meanwhile
    and afterwards, new interpreters are created and its name gets a
    fresh one."""
    srv = start(make_server, 'GracefulShutdownTimeout 2',
                loc('/stuck', interpreter='stuck', idle_timeout=1),
                by_url())
    log = support.LogWindow(srv, 0)
    stop = 'stop-' + support.token()
    with support.Client() as client:
        first = get(client, srv, '/stuck/atexit?file=stuck-atexit')
        get(client, srv, '/stuck/thread?name=never-ends&stop=' + stop)
        lines = log.wait("interpreter 'stuck' (idle past "
                         "mod_wsgi.idle_timeout) is not ended",
                         tag='APW00025', timeout=15)
        assert ':warn]' in lines[0]
        assert re.search(r'did not end within [23]\.\d s of being asked to',
                         lines[0]), lines[0]
        whole = log.tagged('APW00025')
        assert any("thread 'never-ends' (non-daemon):" in line
                   for line in whole), whole
        assert any('in _spin_until' in line for line in whole), whole
        # Left alive, not ended; its atexit handlers ran.
        assert log.tagged('APW00017', "'stuck'") == []
        assert support.wait_file(srv.state_dir / 'stuck-atexit') == 'stuck'
        # Creation goes on, and the name gets a new interpreter.
        assert get(client, srv, '/t/other/whoami')['interpreter'] == \
            't-other'
        again = get(client, srv, '/stuck/whoami')
        assert (again['counter'], again['interp'] != first['interp']) == \
            (1, True)
    (srv.state_dir / stop).write_text('')
    assert len(log.tagged("APW00025", "is not ended")) == 1


def test_idle_end_waits_for_a_thread_that_ends(make_server):
    """A non-daemon thread that ends within the bound is waited for; the
    interpreter is then ended as usual."""
    srv = start(make_server, 'GracefulShutdownTimeout 30',
                loc('/ends', interpreter='ends', idle_timeout=1))
    log = support.LogWindow(srv, 0)
    stop = 'stop-' + support.token()
    with support.Client() as client:
        get(client, srv, '/ends/atexit?file=ends-atexit')
        get(client, srv, '/ends/thread?name=ends-later&stop=' + stop)
        # The thread is asked to stop when the interpreter starts to end,
        # and ends a little later.
        support.wait_file(srv.state_dir / (stop + '.asked'), timeout=15)
        assert log.tagged('APW00017') == []
        (srv.state_dir / stop).write_text('')
        log.wait("ended interpreter 'ends' (idle past mod_wsgi.idle_timeout)",
                 tag='APW00017', timeout=15)
    assert support.wait_file(srv.state_dir / 'ends-atexit') == 'ends'
    assert log.tagged('APW00025') == []


def test_idle_end_stops_thread_pools(make_server):
    """The idle workers of a concurrent.futures pool are told to stop, as
    at interpreter exit, so the interpreter ends."""
    srv = start(make_server, loc('/pool', interpreter='pooled',
                                 idle_timeout=1))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        assert get(client, srv, '/pool/executor')['task'] == 3
        log.wait("ended interpreter 'pooled' (idle past "
                 "mod_wsgi.idle_timeout)", tag='APW00017', timeout=15)
    assert log.tagged('APW00025') == []


# ---- names: no '#', no control character, at most 255 bytes ----

def user_rules():
    """/u/NAME/... -> interpreter user-NAME ([^/]+: anything a path
    segment holds); X-Tenant: T -> interpreter tenant-T under /h/; a
    pool 'user-pool' of 2 under /pool; fixed bad names under /cfg/."""
    return '\n'.join([
        'RewriteEngine On',
        'RewriteRule ^/u/([^/]+)/ - [E=mod_wsgi.interpreter:user-$1,'
        'E=mod_wsgi.script_name:/u/$1]',
        support.location('^/u/', 'interp_app', match=True),
        support.location('/h', 'interp_app',
                         extra='SetEnvIf X-Tenant "^(.*)$" '
                               'mod_wsgi.interpreter=tenant-$1'),
        loc('/pool', interpreter='user-pool', interpreters=2),
        loc('/cfg/hash', interpreter='site#1'),
        loc('/cfg/long', interpreter='c' * 300),
        loc('/cfg/max', interpreter='m' * 255),
    ])


@pytest.mark.expect_log('APW00115')
def test_interpreter_names_checked(make_server):
    srv = start(make_server, user_rules())
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        member = get(client, srv, '/pool/whoami')
        assert member['interpreter'] == 'user-pool#0'
        assert get(client, srv, '/u/alice/whoami')['interpreter'] == \
            'user-alice'
        name = 'user-' + 'n' * 250            # 255 bytes: the limit
        assert get(client, srv, '/u/%s/whoami' % name[5:])['interpreter'] \
            == name
        assert get(client, srv, '/cfg/max/whoami')['interpreter'] == \
            'm' * 255
        # Names a request makes: 400, one info line each.
        for segment, why in [('pool%230', "contains '#'"),
                             ('a%09b', 'control character'),
                             ('a%0Ab', 'control character'),
                             ('a%7Fb', 'control character'),
                             ('n' * 251, 'is 256 bytes long'),
                             ('x' * 4000, 'is 4005 bytes long')]:
            r = client.get(srv.url('/u/%s/whoami' % segment))
            assert r.status_code == 400, (segment, r.status_code, r.text)
            line, = log.wait('/u/', why, tag='APW00114')
            assert '[apwsgi:info]' in line
            assert 'taken from the request' in line
            if len(segment) > 100:    # the name is shown cut short
                assert '"user-%s..."' % segment[:75] in line
            log = support.LogWindow(srv)
        for header in ['a\tb', 'y' * 300]:
            r = client.get(srv.url('/h/whoami'), headers={'X-Tenant': header})
            assert r.status_code == 400, (header, r.status_code)
            log.wait('/h/whoami', tag='APW00114')
            log = support.LogWindow(srv)
        # The pool member was never served to a request that named it.
        assert get(client, srv, '/pool/whoami')['counter'] == \
            member['counter'] + 1
        # Names the configuration makes: 500, one error line each.
        for path, why in [('/cfg/hash/whoami', "contains '#'"),
                          ('/cfg/long/whoami', 'is 300 bytes long')]:
            r = client.get(srv.url(path))
            assert r.status_code == 500, (path, r.status_code)
            line, = log.wait(path, why, 'fix the configuration',
                             tag='APW00115')
            assert '[apwsgi:error]' in line
            log = support.LogWindow(srv)
    assert support.LogWindow(srv, 0).tagged('APW00012') == []
