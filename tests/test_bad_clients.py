# SPDX-License-Identifier: Apache-2.0
"""Bad clients, sent as raw bytes for exact control: bodies shorter than
their Content-Length, malformed chunked bodies, bodies over
LimitRequestBody, header names that try to pass for others, a client
that leaves in the middle of a 100 MiB response, and slow clients held
by Apache's own Timeout.

The application side is tests/apps/badclient_app.py, which records what
wsgi.input gave it; environ_app and state_app show what reached environ.
Every test ends with the same children still serving.
"""

import json
import socket
import time

import pytest

import harness
import support
import wire

LIMIT = 1000                 # LimitRequestBody of /client-limited
BLOCK = 65536
MAX_BLOCKS_AFTER_GONE = 512  # as in test_bad_apps: socket buffers, widely
TIMEOUT = 1                  # Apache's Timeout in the slow-client server

INCOMPLETE = ('OSError: the request body is incomplete or malformed (the '
              'client sent less than its Content-Length, or a bad chunk)')
TOO_LARGE = 'OSError: the request body is larger than LimitRequestBody'
TIMED_OUT = 'OSError: timed out reading the request body'


def client_config(state):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        loc('/client', 'badclient_app'),
        loc('/client-limited', 'badclient_app',
            extra='LimitRequestBody %d' % LIMIT),
        loc('/env', 'environ_app'),
        loc('/env-named', 'environ_app', interpreter='clients'),
        loc('/who', 'state_app'),
    ])


@pytest.fixture(scope='module')
def srv():
    yield from harness.shared(client_config)


@pytest.fixture
def log(srv):
    return support.LogWindow(srv)


def assert_serving(srv, before):
    for _ in range(2 * len(before)):
        with support.Client() as client:
            r = client.get(srv.url('/who/whoami'))
        assert r.status_code == 200
    assert set(srv.child_pids()) == before, 'a child died or was replaced'


@pytest.fixture(autouse=True)
def still_serving(srv):
    before = set(srv.child_pids())
    yield
    assert_serving(srv, before)


def exchange(srv, request, half_close=True):
    """Send raw request bytes; with half_close, end our side (FIN) so the
    server sees the end of what we send.  -> (bytes received, seconds)."""
    start = time.monotonic()
    with socket.create_connection((srv.host, srv.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = support.read_until_close(sock)
    return data, time.monotonic() - start


def recorded(srv, token, timeout=15.0):
    """The JSON line badclient_app recorded for the request."""
    text = support.wait_file(srv.state_dir / ('client-' + token), timeout)
    line, = text.splitlines()
    return json.loads(line)


def post(path, body, headers=()):
    return (b'POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' % path.encode()
            + b''.join(b'%s: %s\r\n' % h for h in headers) + b'\r\n' + body)


# ---- bodies that do not match their framing ----

HOWS = ['read', 'read-n', 'readline', 'readlines', 'iter']


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('how', HOWS)
def test_body_shorter_than_content_length(srv, log, how):
    """The client promises 100000 bytes, sends 1000 (whole lines) and
    ends: every way of reading raises OSError saying why; none returns
    the short body as if it were all."""
    tok = support.token()
    path = '/client/read?token=%s&how=%s' % (tok, how)
    data, _ = exchange(srv, post(path, b'line\n' * 200,
                                 [(b'Content-Length', b'100000')]))
    r = wire.parse_response(data)
    assert r.status == 400, r
    seen = recorded(srv, tok)
    assert seen['outcome'].startswith(INCOMPLETE), seen
    # Whole lines may come back before the error; never all of it + eof.
    assert seen['got'] <= 1000
    if how in ('read', 'read-n', 'readlines'):
        assert seen['got'] == 0, seen
    log.wait('/client/read', tag='APW00401')
    log.wait(INCOMPLETE, tag='APW00301')


MALFORMED_CHUNKED = {
    'bad-size': b'zz\r\nabc\r\n0\r\n\r\n',
    'data-longer-than-size': b'3\r\nabcdef\r\n0\r\n\r\n',
    'size-without-crlf': b'3abc\r\n0\r\n\r\n',
    'cut-inside-chunk': b'100\r\nabc',
    'no-last-chunk': b'3\r\nabc\r\n',
}


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('case', sorted(MALFORMED_CHUNKED))
def test_malformed_chunked_body(srv, log, case):
    tok = support.token()
    path = '/client/read?token=%s&how=read' % tok
    data, _ = exchange(srv, post(path, MALFORMED_CHUNKED[case],
                                 [(b'Transfer-Encoding', b'chunked')]))
    r = wire.parse_response(data)
    assert r.status == 400, r
    assert r.header('Connection') == [b'close']
    seen = recorded(srv, tok)
    assert seen['got'] == 0
    assert seen['outcome'].startswith(INCOMPLETE), seen
    log.wait('/client/read', tag='APW00401')


@pytest.mark.parametrize('case', ['bad-size', 'data-longer-than-size'])
def test_malformed_chunked_body_caught_by_app(srv, case):
    """Apache's HTTP_IN filter has already answered 400 when the read
    raises.  An application that catches the OSError and answers anyway
    must not get its bytes onto the wire behind that error page."""
    tok = support.token()
    path = '/client/read?token=%s&how=read&catch=1' % tok
    data, _ = exchange(srv, post(path, MALFORMED_CHUNKED[case],
                                 [(b'Transfer-Encoding', b'chunked')]))
    r = wire.parse_response(data)
    assert r.status == 400, r
    assert recorded(srv, tok)['outcome'].startswith(INCOMPLETE)
    assert b'"outcome"' not in r.body, 'application bytes after the 400: ' \
        '%r' % r.body[-300:]


def test_content_length_and_chunked_together(srv):
    """Request smuggling shape: Apache goes by Transfer-Encoding, drops
    Content-Length and closes the connection afterwards."""
    tok = support.token()
    path = '/client/read?token=%s&how=read' % tok
    data, _ = exchange(srv, post(path, b'3\r\nabc\r\n0\r\n\r\n', [
        (b'Content-Length', b'3'), (b'Transfer-Encoding', b'chunked')]))
    r = wire.parse_response(data)
    assert r.status == 200, r
    assert r.header('Connection') == [b'close']
    assert recorded(srv, tok) == {'how': 'read', 'got': 3, 'outcome': 'eof'}


@pytest.mark.parametrize('headers', [
    [(b'Transfer-Encoding', b'gzip')],
    [(b'Content-Length', b'-1')],
    [(b'Content-Length', b'3'), (b'Content-Length', b'4')],
    [(b'Content-Length', b'0x10')],
], ids=['te-gzip', 'cl-negative', 'cl-twice', 'cl-hex'])
def test_bad_framing_refused_before_the_application(srv, headers):
    tok = support.token()
    path = '/client/read?token=%s&how=read' % tok
    data, _ = exchange(srv, post(path, b'abcd', headers))
    r = wire.parse_response(data)
    assert r.status == 400, r
    assert not (srv.state_dir / ('client-' + tok)).exists()


# ---- LimitRequestBody ----

def chunked(body, size=500):
    return b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + size]),
                                       body[i:i + size])
                    for i in range(0, len(body), size)) + b'0\r\n\r\n'


@pytest.mark.expect_log('APW00301')
def test_chunked_body_over_limit_request_body(srv, log):
    """413, and the application's read says why; it never sees more
    than the limit."""
    tok = support.token()
    path = '/client-limited/read?token=%s&how=read-n' % tok
    data, _ = exchange(srv, post(path, chunked(b'z' * (LIMIT + 1)),
                                 [(b'Transfer-Encoding', b'chunked')]))
    r = wire.parse_response(data)
    assert r.status == 413, r
    seen = recorded(srv, tok)
    assert seen['got'] <= LIMIT
    assert seen['outcome'].startswith(TOO_LARGE), seen
    log.wait('/client-limited/read', tag='APW00401')


def test_chunked_body_at_limit_request_body(srv):
    tok = support.token()
    path = '/client-limited/read?token=%s&how=read-n' % tok
    data, _ = exchange(srv, post(path, chunked(b'z' * LIMIT),
                                 [(b'Transfer-Encoding', b'chunked')]))
    assert wire.parse_response(data).status == 200
    assert recorded(srv, tok) == {'how': 'read-n', 'got': LIMIT,
                                  'outcome': 'eof'}


def test_content_length_over_limit_request_body(srv):
    """Refused with 413 before any Python runs (ap_setup_client_block)."""
    tok = support.token()
    path = '/client-limited/read?token=%s&how=read' % tok
    data, _ = exchange(srv, post(path, b'z' * (LIMIT + 1), [
        (b'Content-Length', b'%d' % (LIMIT + 1))]))
    assert wire.parse_response(data).status == 413
    assert not (srv.state_dir / ('client-' + tok)).exists()


# ---- request headers that must not reach environ as they are ----

def raw_environ(srv, path, headers):
    data, _ = exchange(srv, b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                            b'%sConnection: close\r\n\r\n' % (
                                path.encode(),
                                b''.join(b'%s: %s\r\n' % h for h in headers)))
    r = wire.parse_response(data)
    assert r.status == 200, r
    return json.loads(r.body)


@pytest.mark.parametrize('mount', ['/env', '/env-named'])
def test_underscore_header_never_poses_as_dash_header(srv, mount):
    env = raw_environ(srv, mount + '/x', [(b'X-Real-Ip', b'10.0.0.1'),
                                          (b'X_Real_Ip', b'6.6.6.6')])
    assert env['str']['HTTP_X_REAL_IP'] == '10.0.0.1'
    env = raw_environ(srv, mount + '/x', [(b'X_Real_Ip', b'6.6.6.6')])
    assert 'HTTP_X_REAL_IP' not in env['types']
    assert '6.6.6.6' not in env['str'].values()


@pytest.mark.parametrize('name', [b'Proxy', b'proxy', b'PROXY'])
def test_proxy_header_never_becomes_http_proxy(srv, name):
    env = raw_environ(srv, '/env-named/x', [(name, b'http://evil:3128')])
    assert 'HTTP_PROXY' not in env['types']
    assert 'http://evil:3128' not in env['str'].values()


def test_proxy_authorization_hidden_without_cgipassauth(srv):
    env = raw_environ(srv, '/env/x', [(b'Proxy-Authorization',
                                       b'Basic c2VjcmV0'),
                                      (b'Authorization', b'Basic c2VjcmV0')])
    assert 'HTTP_PROXY_AUTHORIZATION' not in env['types']
    assert 'HTTP_AUTHORIZATION' not in env['types']
    assert 'Basic c2VjcmV0' not in env['str'].values()


@pytest.mark.parametrize('name', [b'mod_wsgi.interpreter',
                                  b'Mod-Wsgi-Interpreter',
                                  b'mod_wsgi.application'])
def test_request_header_cannot_choose_interpreter_or_app(srv, name):
    data, _ = exchange(srv, b'GET /who/whoami HTTP/1.1\r\nHost: x\r\n'
                            b'%s: evil\r\nConnection: close\r\n\r\n' % name)
    r = wire.parse_response(data)
    assert r.status == 200, r
    who = json.loads(r.body)
    assert who['name'] is None
    assert who['is_main'] in (True, None)
    env = raw_environ(srv, '/env/x', [(name, b'evil')])
    assert 'mod_wsgi.interpreter' not in env['types']
    assert env['str']['mod_wsgi.application'] == 'environ_app'


# ---- a client that leaves in the middle of a large response ----

@pytest.mark.parametrize('reset', [True, False], ids=['rst', 'fin'])
def test_client_leaves_during_100mib_response(srv, log, reset):
    tok = support.token()
    path = '/client/stream?token=%s&mb=100' % tok
    with socket.create_connection((srv.host, srv.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
        got = 0
        while got < 1024 * 1024:
            chunk = sock.recv(65536)
            assert chunk
            got += len(chunk)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b'\x01\x00\x00\x00\x00\x00\x00\x00')
    text = support.wait_file(srv.state_dir / ('client-' + tok), 30,
                             contains='close after')
    count, total = map(int, text.split()[2::2])
    assert total == 1600
    assert count <= 16 + MAX_BLOCKS_AFTER_GONE, text
    log.wait('/client/stream', tag='APW00305')


# ---- slow clients: Apache's Timeout ends them ----

def slow_config(state):
    return client_config(state) + '\nTimeout %d\n' % TIMEOUT


@pytest.fixture(scope='module')
def slow_srv():
    yield from harness.shared(slow_config)


@pytest.mark.expect_log('APW00301')
def test_client_stalls_inside_the_body(slow_srv):
    tok = support.token()
    path = '/client/read?token=%s&how=read' % tok
    log = support.LogWindow(slow_srv)
    data, elapsed = exchange(slow_srv, post(path, b'abc', [
        (b'Content-Length', b'100')]), half_close=False)
    r = wire.parse_response(data)
    assert r.status == 408, r
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 8, elapsed
    seen = recorded(slow_srv, tok)
    assert (seen['got'], seen['outcome'].startswith(TIMED_OUT)) == \
        (0, True), seen
    log.wait('/client/read', tag='APW00401')


@pytest.mark.parametrize('partial', [b'GET /client/read?token=T HTT',
                                     b'GET /client/read?token=T HTTP/1.1\r\n'
                                     b'Host: x\r\nX-Slow: '])
def test_client_stalls_inside_the_request_head(slow_srv, partial):
    tok = support.token()
    data, elapsed = exchange(slow_srv, partial.replace(b'T', tok.encode(),
                                                       1), half_close=False)
    assert data == b'' or data.startswith(b'HTTP/1.1 408 '), data[:200]
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 8, elapsed
    assert not (slow_srv.state_dir / ('client-' + tok)).exists()


def test_client_that_never_reads_the_response(slow_srv):
    """The client asks for 100 MiB and reads nothing: once the socket
    buffers are full, Apache's write times out after Timeout, the
    iteration stops and close() runs; others are served meanwhile."""
    tok = support.token()
    path = '/client/stream?token=%s&mb=100' % tok
    log = support.LogWindow(slow_srv)
    with socket.create_connection((slow_srv.host, slow_srv.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        start = time.monotonic()
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
        with support.Client() as client:
            r = client.get(slow_srv.url('/who/whoami'))
            assert r.status_code == 200
        text = support.wait_file(slow_srv.state_dir / ('client-' + tok),
                                 TIMEOUT + 20, contains='close after')
        elapsed = time.monotonic() - start
    count = int(text.split()[2])
    assert count <= MAX_BLOCKS_AFTER_GONE, text
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 20, elapsed
    log.wait('/client/stream', tag='APW00305')
