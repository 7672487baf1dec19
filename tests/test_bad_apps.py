# SPDX-License-Identifier: Apache-2.0
"""Bad applications that test_errors.py and test_close.py do not cover:
threads of the application's own, wsgi.errors from other threads,
request objects used from other threads, recursion, sys.exit() at every
stage, never-ending responses, odd return values.

Each test checks the exact status (or the cut connection), the tagged
log line, and afterwards that the same Apache children still serve (no
child died or was replaced).  The app is tests/apps/badapp_app.py,
mounted in the main interpreter (/bad) and in a named one (/bad-named).
"""

import re
import socket

import pytest

import harness
import support
import wire

MOUNTS = ['/bad', '/bad-named']
BLOCK = 65536
# Blocks an endless response may produce after its client went away:
# what the socket buffers on both sides hold (a few MiB on loopback),
# with a wide margin.  Unbounded iteration would reach CAP_BLOCKS.
MAX_BLOCKS_AFTER_GONE = 512


def bad_config(state):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        loc('/bad', 'badapp_app'),
        loc('/bad-named', 'badapp_app', interpreter='bad'),
        loc('/errors-bad', 'errors_app', interpreter='bad'),
    ])


@pytest.fixture(scope='module')
def srv():
    yield from harness.shared(bad_config)


@pytest.fixture
def log(srv):
    return support.LogWindow(srv)


@pytest.fixture(autouse=True)
def still_serving(srv):
    """After the test: the same children, and each of them serves."""
    before = set(srv.child_pids())
    yield
    for _ in range(2 * len(before)):
        with support.Client() as client:
            r = client.get(srv.url('/bad/ok'))
        assert (r.status_code, r.content) == (200, b'still serving')
    assert set(srv.child_pids()) == before, 'a child died or was replaced'


def events(srv, token, last, timeout=15.0):
    text = support.wait_file(srv.state_dir / ('bad-' + token), timeout,
                             contains=last)
    return text.splitlines()


def get_raw(srv, path):
    return wire.parse_response(support.raw_request(
        srv, b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close'
             b'\r\n\r\n' % path.encode()))


def assert_500(srv, path):
    r = get_raw(srv, path)
    assert r.status == 500, r
    assert r.complete
    assert b'apwsgi-test' not in r.body


def assert_cut(srv, path, sent):
    r = get_raw(srv, path)
    assert r.status == 200, r
    assert r.header('Transfer-Encoding') == [b'chunked']
    assert r.body == sent
    assert not r.complete, 'the connection was not cut: %r' % r


# ---- threads started by the application ----

@pytest.mark.parametrize('mount', MOUNTS)
def test_threads_spawned_by_app_run_to_their_end(srv, mount):
    tok = support.token()
    with support.Client() as client:
        r = client.get(srv.url('%s/threads?token=%s&n=4' % (mount, tok)))
    assert (r.status_code, r.content) == (200, b'started')
    lines = events(srv, tok, 'thread 3 done')
    support.wait_for(lambda: len(events(srv, tok, 'done')) == 4,
                     what='4 threads done')
    lines = events(srv, tok, 'done')
    assert sorted(line.split()[1] for line in lines) == ['0', '1', '2', '3']
    assert len({line.split()[3] for line in lines}) == 1   # one process


@pytest.mark.expect_log('APW00503')
def test_exception_in_app_thread_goes_to_error_log(srv, log):
    tok = support.token()
    with support.Client() as client:
        r = client.get(srv.url('/bad/thread-raises?token=' + tok))
    assert (r.status_code, r.content) == (200, b'thread raised')
    assert events(srv, tok, 'thread raised') == ['thread raised']
    # threading.excepthook prints the traceback to sys.stderr.
    log.wait('Traceback (most recent call last):', tag='APW00503')
    log.wait('TestError: apwsgi-test-thread-raises', tag='APW00503')


@pytest.mark.parametrize('mount', MOUNTS)
def test_sys_exit_in_app_thread_ends_only_that_thread(srv, mount):
    tok = support.token()
    with support.Client() as client:
        r = client.get(srv.url('%s/thread-exit?token=%s' % (mount, tok)))
    assert (r.status_code, r.content) == (200, b'thread exited')
    assert events(srv, tok, 'after') == ['after']


@pytest.mark.expect_log('APW00501')
@pytest.mark.parametrize('mount', MOUNTS)
def test_wsgi_errors_from_threads_during_and_after_request(srv, log, mount):
    """Lines written by other threads while the response streams are
    logged whole, once each, against the request; lines written after
    the request ended are logged against the server; the request's other
    objects refuse to work from there."""
    tok = support.token()
    n, lines = 4, 50
    path = '%s/errors-threads?token=%s&n=%d&lines=%d' % (mount, tok, n,
                                                         lines)
    r = get_raw(srv, path)
    assert r.status == 200 and r.complete, r
    assert r.body == b''.join(b'block %d\n' % k for k in range(20)) + \
        b'joined\n'
    recorded = events(srv, tok, 'late done')
    assert recorded == ['late read ValueError',
                        'late start_response RuntimeError',
                        'late write RuntimeError',
                        'late done']
    log.wait('apwsgi-test-late %s %d' % (tok, lines - 1), tag='APW00501')
    text = log.text()
    during = re.findall(r'(\[client [^]]+\] )?APW00501: apwsgi-test-thr %s '
                        r'(\d+) (\d+) (x*)$' % tok, text, re.M)
    seen = sorted((int(i), int(j)) for c, i, j, pad in during)
    assert seen == [(i, j) for i in range(n) for j in range(lines)]
    assert all(pad == 'x' * 200 for c, i, j, pad in during)
    assert all(c for c, i, j, pad in during), 'not logged against request'
    late = re.findall(r'(\[client [^]]+\] )?APW00501: apwsgi-test-late %s '
                      r'(\d+)$' % tok, text, re.M)
    assert sorted(int(j) for c, j in late) == list(range(lines))
    assert not any(c for c, j in late), 'logged against a finished request'


def test_write_from_other_thread(srv):
    """write() from a thread that does not serve the request neither
    crashes the child nor corrupts the response: it raises RuntimeError
    in that thread."""
    tok = support.token()
    n = 300
    r = get_raw(srv, '/bad/write-from-thread?token=%s&n=%d' % (tok, n))
    assert r.status == 200 and r.complete, r
    line, = events(srv, tok, 'thread ')
    ok, failed = map(int, re.match(r'thread (\d+) ok, (\d+) failed',
                                   line).groups())
    assert line == 'thread 0 ok, %d failed (RuntimeError)' % n
    assert r.body == b''.join(b'R%d;' % i for i in range(n))


def test_read_input_from_other_thread(srv):
    """Two threads reading wsgi.input: the child lives, the request's own
    thread reads the whole body, the other gets RuntimeError at once."""
    tok = support.token()
    body = bytes(range(256)) * 4096 * 4   # 4 MiB
    with support.Client() as client:
        r = client.post(srv.url('/bad/read-from-thread?token=' + tok),
                        data=body)
    assert r.status_code == 200
    assert r.content == b'%d 0' % len(body)
    assert sorted(events(srv, tok, 'thread read')) == [
        'request read %d (eof)' % len(body), 'thread read 0 (RuntimeError)']


def test_write_after_response_end(srv):
    """write() called from close(), after the last chunk went out, must
    raise; nothing may follow the end of the response on the wire (on a
    keep-alive connection it would pose as the next response)."""
    tok = support.token()
    r = get_raw(srv, '/bad/write-in-close?token=' + tok)
    assert r.status == 200 and r.complete, r
    assert r.body == b'body'
    assert r.rest == b'', 'bytes after the response: %r' % r.rest
    line, = events(srv, tok, 'write ')
    assert line == 'write RuntimeError'


# ---- recursion ----

@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('mount', MOUNTS)
def test_recursion_error_before_headers(srv, log, mount):
    assert_500(srv, mount + '/recursion')
    log.wait(mount + '/recursion', tag='APW00301')
    log.wait('RecursionError: maximum recursion depth exceeded',
             tag='APW00301')


@pytest.mark.expect_log('APW00302')
def test_recursion_error_mid_stream(srv, log):
    assert_cut(srv, '/bad/recursion-mid-stream', b'first\n')
    log.wait('/bad/recursion-mid-stream', tag='APW00302')
    log.wait('RecursionError: maximum recursion depth exceeded',
             tag='APW00302')


@pytest.mark.expect_log('APW00303')
def test_recursion_error_in_close(srv, log):
    r = get_raw(srv, '/bad/recursion-in-close')
    assert (r.status, r.body, r.complete) == (200, b'ok', True)
    log.wait('/bad/recursion-in-close', tag='APW00303')
    log.wait('RecursionError: maximum recursion depth exceeded',
             tag='APW00303')


# ---- sys.exit() does not end the process ----

@pytest.mark.expect_log('APW00301')
def test_sys_exit_in_named_interpreter(srv, log):
    for _ in range(3):
        assert_500(srv, '/errors-bad/sys-exit')
    log.wait('/errors-bad/sys-exit', tag='APW00301')
    log.wait('SystemExit: 3', tag='APW00301')


@pytest.mark.expect_log('APW00302')
@pytest.mark.parametrize('mount', MOUNTS)
def test_sys_exit_mid_stream(srv, log, mount):
    assert_cut(srv, mount + '/sys-exit-mid-stream', b'first\n')
    log.wait(mount + '/sys-exit-mid-stream', tag='APW00302')
    log.wait('SystemExit: 4', tag='APW00302')


@pytest.mark.expect_log('APW00303')
@pytest.mark.parametrize('mount', MOUNTS)
def test_sys_exit_in_close(srv, log, mount):
    tok = support.token()
    r = get_raw(srv, '%s/sys-exit-in-close?token=%s' % (mount, tok))
    assert (r.status, r.body, r.complete) == (200, b'ok', True)
    assert events(srv, tok, 'close') == ['close']
    log.wait(mount + '/sys-exit-in-close', tag='APW00303')
    log.wait('SystemExit: 5', tag='APW00303')


# ---- a response without end, and a client that goes away ----

def read_then_leave(srv, path, nbytes, reset):
    """Read the headers and nbytes of the body, then close the connection
    (with a RST when reset, else a FIN)."""
    with socket.create_connection((srv.host, srv.port),
                                  timeout=support.TIMEOUT) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
                     % path.encode())
        got = b''
        while len(got) < nbytes:
            chunk = sock.recv(65536)
            assert chunk, 'server closed first'
            got += chunk
        assert got.startswith(b'HTTP/1.1 200 OK\r\n')
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b'\x01\x00\x00\x00\x00\x00\x00\x00')


@pytest.mark.parametrize('reset', [True, False], ids=['rst', 'fin'])
@pytest.mark.parametrize('mount', MOUNTS)
def test_never_ending_response_stops_when_client_leaves(srv, log, mount,
                                                        reset):
    tok = support.token()
    path = '%s/never-ends?token=%s' % (mount, tok)
    read_then_leave(srv, path, 4 * BLOCK, reset)
    line, = events(srv, tok, 'close after', timeout=30)
    blocks = int(line.split()[2])
    assert blocks <= MAX_BLOCKS_AFTER_GONE, line
    log.wait(path.split('?')[0], tag='APW00305')


@pytest.mark.parametrize('mount', MOUNTS)
def test_never_ending_write_raises_when_client_leaves(srv, log, mount):
    tok = support.token()
    path = '%s/never-ends-write?token=%s' % (mount, tok)
    read_then_leave(srv, path, 4 * BLOCK, reset=True)
    line, = events(srv, tok, 'write raised', timeout=30)
    match = re.fullmatch(r'write raised OSError: the client closed the '
                         r'connection after (\d+) blocks', line)
    assert match, line
    assert int(match.group(1)) <= MAX_BLOCKS_AFTER_GONE
    log.wait(path.split('?')[0], tag='APW00305')


# ---- odd return values ----

@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('path, exc_line', [
    ('/str-result', 'TypeError: the response iterable yielded str, not '
                    'bytes'),
    ('/bytes-result', 'TypeError: the response iterable yielded int, not '
                      'bytes'),
    ('/yield-int', 'TypeError: the response iterable yielded int, not '
                   'bytes'),
    ('/yield-none', 'TypeError: the response iterable yielded NoneType, '
                    'not bytes'),
    ('/iter-raises', 'TestError: apwsgi-test-iter-raises'),
])
@pytest.mark.parametrize('mount', MOUNTS)
def test_odd_return_value_gives_500(srv, log, mount, path, exc_line):
    assert_500(srv, mount + path)
    log.wait(mount + path, tag='APW00301')
    log.wait(exc_line, tag='APW00301')


@pytest.mark.expect_log('APW00303')
def test_close_attribute_not_callable(srv, log):
    r = get_raw(srv, '/bad/close-not-callable')
    assert (r.status, r.body, r.complete) == (200, b'ok', True)
    log.wait('/bad/close-not-callable', tag='APW00303')
    log.wait("TypeError: 'int' object is not callable", tag='APW00303')


@pytest.mark.expect_log('APW00303')
def test_generator_ignoring_generator_exit(srv, log):
    """Content-Length reached: iteration stops early, close() throws
    GeneratorExit in, the generator yields again: logged, not fatal."""
    tok = support.token()
    r = get_raw(srv, '/bad/gen-ignores-exit?token=' + tok)
    assert (r.status, r.body, r.complete) == (200, b'ab', True)
    assert r.header('Content-Length') == [b'2']
    assert events(srv, tok, 'finally') == ['finally']
    log.wait('/bad/gen-ignores-exit', tag='APW00303')
    log.wait('RuntimeError: generator ignored GeneratorExit', tag='APW00303')
