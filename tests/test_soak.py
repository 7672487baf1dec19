"""Soak: many requests through every path of the module must not make the
serving process grow (reference or pool leaks per request).

Run with `make soak` (pytest -m soak); not part of the default run.
One Apache process (also under prefork), so that every request reaches the
process whose memory is measured; keep-alive connections end after
MaxKeepAliveRequests, which does not matter then.
"""

import pytest

import support

pytestmark = pytest.mark.soak

WARMUP = 1500
ROUNDS = 6000
GROWTH_LIMIT = 8 * 1024 * 1024   # bytes of RSS over ROUNDS requests


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


def rss(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS for pid %d' % pid)


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
        before = rss(pid)
        mixed_requests(client, srv, ROUNDS, body)
        after = rss(pid)
        assert client.get(srv.url('/named/whoami')).json()['pid'] == pid
    assert after - before < GROWTH_LIMIT, (before, after)


@pytest.mark.expect_log('APW00301')
def test_no_growth_over_many_errors(make_server):
    srv = make_server(soak_config, log_level='crit', processes=1)
    with support.Client() as client:
        pid = client.get(srv.url('/named/whoami')).json()['pid']
        def errors(count):
            for i in range(count):
                r = client.get(srv.url('/errors/raise'))
                assert r.status_code == 500
        errors(300)
        before = rss(pid)
        errors(1500)
        assert client.get(srv.url('/named/whoami')).json()['pid'] == pid
    assert rss(pid) - before < GROWTH_LIMIT
