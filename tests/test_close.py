# SPDX-License-Identifier: Apache-2.0
"""The response iterable's close() is always called (PEP 3333).

close_app records events ('block <i>', 'end', 'close', ...) in
STATE/close-<token>; tests poll that file with a deadline, since close()
may run after the client already has the whole response.
"""

import socket

import pytest
import requests

import support


def events(state, tok, last='close', timeout=10.0):
    """The recorded events once `last` was recorded."""
    text = support.wait_file(state / ('close-' + tok), timeout,
                             contains=last + '\n')
    return text.splitlines()


def close_url(url, path, tok):
    return url('/close/%s?token=%s' % (path, tok))


def test_close_called_at_normal_end(http, url, state):
    tok = support.token()
    r = http.get(close_url(url, 'normal', tok))
    assert (r.status_code, r.content) == (200, b'ab')
    assert events(state, tok) == ['block 0', 'block 1', 'end', 'close']


@pytest.mark.expect_log('APW00301')
def test_close_called_after_exception_before_headers(http, url, state, log):
    tok = support.token()
    assert http.get(close_url(url, 'raise-before', tok)).status_code == 500
    assert events(state, tok) == ['close']
    log.wait('apwsgi-test-close-fail-at-0', tag='APW00301')


@pytest.mark.expect_log('APW00302')
def test_close_called_after_exception_mid_stream(server, state, log):
    tok = support.token()
    status, headers, body = support.raw_get(
        server, '/close/raise-after?token=' + tok)
    assert status == b'HTTP/1.1 200 OK'
    assert b'first\n' in body
    assert events(state, tok) == ['block 0', 'close']
    log.wait('apwsgi-test-close-fail-at-1', tag='APW00302')


@pytest.mark.expect_log('APW00301')
def test_close_called_after_type_error(http, url, state, log):
    tok = support.token()
    assert http.get(close_url(url, 'str-item', tok)).status_code == 500
    assert events(state, tok) == ['block 0', 'close']
    log.wait('/close/str-item', tag='APW00301')


def test_close_called_when_client_disconnects(server, state, log):
    """The client reads the first bytes and hangs up; the module stops
    iterating, calls close() and logs APW00305."""
    tok = support.token()
    with socket.create_connection((server.host, server.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(b'GET /close/disconnect?token=%s HTTP/1.1\r\n'
                     b'Host: 127.0.0.1\r\n\r\n' % tok.encode())
        assert sock.recv(65536).startswith(b'HTTP/1.1 200 OK')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b'\x01\x00\x00\x00\x00\x00\x00\x00')  # RST on close
    recorded = events(state, tok, timeout=40)
    assert recorded[-1] == 'close'
    assert 'exhausted' not in recorded
    blocks = [e for e in recorded if e.startswith('block ')]
    assert len(blocks) < 1000, len(blocks)
    log.wait('/close/disconnect', tag='APW00305')


@pytest.mark.expect_log('APW00303')
def test_close_raising_is_logged(http, url, state, log):
    tok = support.token()
    r = http.get(close_url(url, 'close-raises', tok))
    assert (r.status_code, r.content) == (200, b'ab')
    assert events(state, tok) == ['block 0', 'block 1', 'end', 'close']
    log.wait('apwsgi-test-close-raises', tag='APW00303')
    log.wait('/close/close-raises', tag='APW00303')
    # The process goes on serving.
    assert http.get(close_url(url, 'normal', support.token())).content \
        == b'ab'


def test_generator_closed_early_runs_finally(server, state):
    tok = support.token()
    r = requests.get(server.url('/close/generator?token=' + tok),
                     timeout=support.TIMEOUT)
    assert r.content == b'gen-agen-b'
    assert events(state, tok, last='finally') == ['finally']


def test_file_wrapper_close_closes_filelike(http, url, state):
    tok = support.token()
    r = http.get(close_url(url, 'wrapper', tok))
    assert r.content == b'wrapped data'
    assert events(state, tok, last='filelike-close') == ['filelike-close']


def test_close_called_for_head(http, url, state):
    tok = support.token()
    r = http.head(close_url(url, 'head', tok))
    assert (r.status_code, r.content) == (200, b'')
    assert events(state, tok)[-1] == 'close'
