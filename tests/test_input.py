# SPDX-License-Identifier: Apache-2.0
"""wsgi.input: every read method, Content-Length and chunked bodies."""

import os
import socket

import pytest

import support
from support import sha256

MIB = 1024 * 1024


def chunked(data, size=10000):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def post_json(http, url, path, data, **kw):
    response = http.post(url(path), data=data, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def test_read_content_length_1mib(http, url):
    data = os.urandom(MIB)
    out = post_json(http, url, '/input/read', data)
    assert out['len'] == MIB
    assert out['sha256'] == sha256(data)
    assert out['content_length'] == str(MIB)
    assert out['after'] == [0, 0, 0, 0]
    assert out['terminated'] is True


def test_read_chunked_1mib(http, url):
    data = os.urandom(MIB)
    out = post_json(http, url, '/input/read', chunked(data, 65536 + 7))
    assert out['len'] == MIB
    assert out['sha256'] == sha256(data)
    assert out['content_length'] in (None, '')
    assert out['after'] == [0, 0, 0, 0]
    assert out['terminated'] is True


def test_read_no_body_returns_empty_at_once(http, url):
    out = http.get(url('/input/read'), timeout=5).json()
    assert out['len'] == 0
    assert out['after'] == [0, 0, 0, 0]


def test_read_empty_body(http, url):
    out = post_json(http, url, '/input/read', b'')
    assert out['len'] == 0
    assert out['sha256'] == sha256(b'')


def test_read_minus_one(http, url):
    data = os.urandom(100000)
    out = post_json(http, url, '/input/read-neg', data)
    assert (out['len'], out['sha256']) == (len(data), sha256(data))


@pytest.mark.parametrize('n, size, is_chunked', [
    (1, 3000, False),
    (7, 100003, False),
    (8192, MIB, False),
    (65536, MIB, True),
    (100003, MIB, False),
    (3 * MIB, MIB, False),
])
def test_read_n(http, url, n, size, is_chunked):
    data = os.urandom(size)
    body = chunked(data, 4099) if is_chunked else data
    out = post_json(http, url, '/input/readn?n=%d' % n, body)
    assert out['sha256'] == sha256(data)
    # File semantics: read(n) returns n bytes unless the end came first.
    full, rest = divmod(size, n)
    assert out['sizes'] == [n] * full + ([rest] if rest else [])
    assert out['after'] == 0


@pytest.mark.parametrize('is_chunked', [False, True])
def test_readline(http, url, is_chunked):
    data = b'line1\nline2\r\n\nlong' + b'x' * 100000 + b'\nlast'
    body = chunked(data, 1000) if is_chunked else data
    out = post_json(http, url, '/input/readline', body)
    assert out['lines'] == ['line1\n', 'line2\r\n', '\n',
                            'long' + 'x' * 100000 + '\n', 'last']
    assert out['after'] == 0


def test_readline_n(http, url):
    out = post_json(http, url, '/input/readline-n?n=4',
                    b'abcdefghij\nxyz\n\n12')
    assert out['lines'] == ['abcd', 'efgh', 'ij\n', 'xyz\n', '\n', '12']


def test_readlines(http, url):
    out = post_json(http, url, '/input/readlines', b'a\nbb\n\nccc')
    assert out['lines'] == ['a\n', 'bb\n', '\n', 'ccc']


def test_readlines_hint(http, url):
    # io semantics: stop once the lines read so far total >= hint.
    out = post_json(http, url, '/input/readlines-hint?hint=10',
                    b'aaaaa\n' * 10)
    assert out['lines'] == ['aaaaa\n', 'aaaaa\n']
    assert out['rest'] == 'aaaaa\n' * 8


def test_iteration(http, url):
    out = post_json(http, url, '/input/iter', chunked(b'x\ny\n\nz', 2))
    assert out['lines'] == ['x\n', 'y\n', '\n', 'z']


def test_mixed_methods_keep_position(http, url):
    out = post_json(http, url, '/input/mixed', b'first\n12345rest1\nrest2')
    assert out == {'a': 'first\n', 'b': '12345', 'c': ['rest1\n', 'rest2']}


def test_binary_body_latin1_lines(http, url):
    out = post_json(http, url, '/input/readlines', bytes(range(256)))
    assert ''.join(out['lines']).encode('latin-1') == bytes(range(256))
    assert out['lines'][0] == ''.join(map(chr, range(11)))


def test_unread_body_keeps_connection_usable(http, url):
    first = http.post(url('/input/ignore'), data=os.urandom(300000))
    assert (first.status_code, first.content) == (200, b'ignored')
    second = http.post(url('/input/partial?n=3'), data=b'abcdef')
    assert second.json() == {'got': 'abc'}
    third = post_json(http, url, '/input/read', b'after')
    assert third['len'] == 5


def test_expect_100_continue(server):
    """The body is asked for (100 Continue) only when the app reads it."""
    body = os.urandom(50000)
    with socket.create_connection((server.host, server.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(b'POST /input/read HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                     b'Content-Length: %d\r\nExpect: 100-continue\r\n'
                     b'Connection: close\r\n\r\n' % len(body))
        interim = b''
        while b'\r\n\r\n' not in interim and len(interim) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            interim += chunk
        assert interim.startswith(b'HTTP/1.1 100 Continue\r\n'), interim
        sock.sendall(body)
        response = interim.split(b'\r\n\r\n', 1)[1]
        for _ in range(10000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    head, _, payload = response.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200 ')
    assert sha256(body).encode() in payload


def test_limit_request_body_413_app_not_called(http, url, state):
    tok = support.token()
    response = http.post(url('/input-limited/called?token=' + tok),
                         data=b'x' * 2000)
    assert response.status_code == 413
    assert not (state / ('input-called-' + tok)).exists()


def test_limit_request_body_within_limit(http, url, state):
    tok = support.token()
    out = post_json(http, url, '/input-limited/called?token=' + tok,
                    b'y' * 1000)
    assert out['len'] == 1000
    assert (state / ('input-called-' + tok)).read_text() == 'called\n'


# The app sees an OSError from read(); whether the module also logs that
# exception is not specified, the status is.
@pytest.mark.expect_log('APW00301')
def test_limit_request_body_chunked_413(http, url):
    response = http.post(url('/input-limited/read'),
                         data=chunked(b'z' * 5000, 500))
    assert response.status_code == 413


def test_pipelined_requests_with_bodies(server):
    """Bodies are read exactly: nothing of the next pipelined request is
    consumed as body, nothing of a body is left to parse as a request."""
    data = support.raw_request(server, (
        b'POST /input/read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n'
        b'abcde'
        b'POST /input/read HTTP/1.1\r\nHost: x\r\n'
        b'Transfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n'
        b'GET /response/single HTTP/1.1\r\nHost: x\r\n'
        b'Connection: close\r\n\r\n'))
    assert data.count(b'HTTP/1.1 200 OK\r\n') == 3, data
    first = data.index(sha256(b'abcde').encode())
    second = data.index(sha256(b'xyz').encode())
    assert first < second < data.index(b'hello world')


@pytest.mark.expect_log('APW00301')
def test_client_abandons_body(server, log):
    """The client sends part of the body and hangs up: the app gets an
    OSError (APW00401), the process lives on."""
    with socket.create_connection((server.host, server.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(b'POST /input/read?abandon HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Length: 100000\r\n\r\n' + b'q' * 1000)
    log.wait('/input/read', tag='APW00401')
    log.wait('/input/read', tag='APW00301')   # the app did not catch it
    with support.Client() as client:
        assert client.post(server.url('/input/read'),
                           data=b'ok').json()['len'] == 2


@pytest.mark.parametrize('method', ['PUT', 'DELETE', 'PATCH', 'OPTIONS'])
def test_other_methods(http, url, method):
    r = http.request(method, url('/input/read'), data=b'body!')
    assert r.status_code == 200
    assert r.json()['sha256'] == sha256(b'body!')


def test_unheld_input_and_errors_reused(http, url):
    """A request's wsgi.input and wsgi.errors that nothing holds once it
    ends serve a later request of the interpreter (at most 8 kept); one
    the application holds is never given out again.  tracemalloc tells
    an object made while it traced from one made before."""
    def traced(query=''):
        r = http.get(url('/input/traced' + query))
        assert r.status_code == 200, r.text
        return r.json()

    try:
        assert traced('?trace=start') == {'wsgi.input': False,
                                          'wsgi.errors': False}
        for _ in range(3):
            assert traced() == {'wsgi.input': False, 'wsgi.errors': False}
        # Each kept input takes one that the interpreter kept, until
        # there are none left and a new one is made.
        made = [traced('?keep=1') for _ in range(10)]
        first = [m['wsgi.input'] for m in made].index(True)
        assert first <= 8, made
        assert all(m['wsgi.input'] for m in made[first:]), made
        assert not any(m['wsgi.errors'] for m in made), made
    finally:
        traced('?trace=stop')
