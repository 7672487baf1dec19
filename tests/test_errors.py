# SPDX-License-Identifier: Apache-2.0
"""Every error case: the status the client gets and the tagged log lines.

Tags are those of docs/errors.rst.  A 500 error logs its tag with the
request URI; tracebacks are logged one line per entry, each with the same
tag.
"""

import pytest

import support
from support import log_pid


def assert_logged(log, tag, uri, *texts):
    """The tag was logged with the URI, and with each text (same tag)."""
    lines = log.wait(uri, tag=tag)
    for text in texts:
        log.wait(text, tag=tag)
    return lines


def assert_traceback(log, tag, uri, exc_line):
    assert_logged(log, tag, uri, 'Traceback (most recent call last):',
                  exc_line)


def assert_cut(server, path, sent):
    """Headers and `sent` reached the client, then the connection was cut:
    no terminating zero-size chunk."""
    status, headers, body = support.raw_get(server, path)
    assert status == b'HTTP/1.1 200 OK', (status, headers, body)
    assert b'Transfer-Encoding: chunked' in headers
    assert sent in body
    assert not body.endswith(b'0\r\n\r\n'), body


# ---- configuration errors ----

@pytest.mark.expect_log('APW00101')
def test_application_not_set(http, url, log):
    assert http.get(url('/err/noapp/x')).status_code == 500
    assert_logged(log, 'APW00101', '/err/noapp/x')


@pytest.mark.expect_log('APW00102')
@pytest.mark.parametrize('name', sorted(support.MALFORMED_APPLICATIONS))
def test_application_malformed(http, url, log, name):
    path = '/err/%s/x' % name
    assert http.get(url(path)).status_code == 500
    assert_logged(log, 'APW00102', path)


@pytest.mark.expect_log('APW00202')
@pytest.mark.parametrize('name', ['nocallable', 'notcallable'])
def test_callable_missing_or_not_callable(http, url, log, name):
    path = '/err/%s/' % name
    assert http.get(url(path)).status_code == 500
    assert_logged(log, 'APW00202', path)


@pytest.mark.expect_log('APW00201')
def test_import_failure_module_not_found(http, url, log):
    assert http.get(url('/err/noimport/')).status_code == 500
    # importlib strips its own frames: maybe no 'Traceback' header here.
    assert_logged(log, 'APW00201', '/err/noimport/',
                  "ModuleNotFoundError: No module named "
                  "'apwsgi_no_such_module_xyz'")


@pytest.mark.expect_log('APW00201')
def test_import_failure_retried_on_next_request(http, url, server):
    """No poisoned cache: every request tries the import again."""
    for _ in range(3):
        log = support.LogWindow(server)
        assert http.get(url('/err/import-raises/')).status_code == 500
        assert_traceback(log, 'APW00201', '/err/import-raises/',
                         'ZeroDivisionError: division by zero')


@pytest.mark.expect_log('APW00104')
def test_directory_not_absolute(http, url, log):
    assert http.get(url('/err/reldir/')).status_code == 500
    assert_logged(log, 'APW00104', '/err/reldir/')


@pytest.mark.expect_log('APW00203')
def test_script_file_missing(http, url, log):
    assert http.get(url('/err/script-missing/')).status_code == 500
    assert_logged(log, 'APW00203', '/err/script-missing/')


@pytest.mark.expect_log('APW00208')
def test_script_file_syntax_error(http, url, log):
    assert http.get(url('/err/script-syntax/')).status_code == 500
    assert_logged(log, 'APW00208', '/err/script-syntax/', 'SyntaxError')


FIXED_APP = '''\
import os


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('X-Pid', str(os.getpid()))])
    return [b'fixed now']
'''


@pytest.mark.expect_log('APW00201')
def test_import_failure_then_fixed(url, log, state):
    """The process whose import failed serves the fixed module next."""
    with support.Client() as client:
        assert client.get(url('/err/fixable/')).status_code == 500
    lines = assert_logged(log, 'APW00201', '/err/fixable/',
                          'ImportError: apwsgi-test: broken on purpose')
    failed_pid = log_pid(lines[0])
    assert failed_pid is not None, lines[0]
    support.write_world_readable(state / 'fixable' / 'fixable_app.py',
                                 FIXED_APP)
    pids = []
    for _ in range(60):   # prefork: new connections reach any child
        with support.Client() as client:
            r = client.get(url('/err/fixable/'))
        assert (r.status_code, r.content) == (200, b'fixed now')
        pids.append(int(r.headers['X-Pid']))
        if pids[-1] == failed_pid:
            break
    assert failed_pid in pids, (failed_pid, pids)


@pytest.mark.expect_log('APW00103')
def test_same_module_name_from_other_directory_refused(http, url, log):
    a = http.get(url('/conflict/a/'))
    assert (a.status_code, a.content) == (200, b'dup_a')
    # Same connection, same process, same interpreter 'conflict'.
    b = http.get(url('/conflict/b/'))
    assert b.status_code == 500
    assert b'dup_b' not in b.content
    assert_logged(log, 'APW00103', '/conflict/b/')
    with support.Client() as client:
        assert client.get(url('/conflict/a/')).content == b'dup_a'


# ---- the application misbehaves before headers are sent: 500 ----

@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('path, exc_line', [
    ('/raise', 'TestError: apwsgi-test-raise'),
    ('/raise-after-start', 'TestError: apwsgi-test-raise-after-start'),
    ('/raise-in-first-next', 'TestError: apwsgi-test-raise-in-first-next'),
    ('/raise-after-empty', 'TestError: apwsgi-test-raise-after-empty'),
    ('/str-item', 'TypeError'),
    ('/none', 'TypeError'),
    ('/int-iterable', 'TypeError'),
    ('/keyboard-interrupt', 'KeyboardInterrupt'),
])
@pytest.mark.parametrize('mount', ['/errors', '/errors-named'])
def test_exception_before_headers_gives_500(http, url, log, mount, path,
                                            exc_line):
    r = http.get(url(mount + path))
    assert r.status_code == 500
    assert b'apwsgi-test' not in r.content   # no traceback to the client
    assert_logged(log, 'APW00301', mount + path, exc_line)


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('path', ['/no-start-response', '/start-twice'])
def test_start_response_misuse_gives_500(http, url, log, path):
    r = http.get(url('/errors' + path))
    assert r.status_code == 500
    assert_logged(log, 'APW00301', '/errors' + path)


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('case', ['no-code', 'short-code', 'long-code',
                                  'no-reason', 'letters', 'bytes', 'int',
                                  'crlf', 'lf'])
def test_bad_status_gives_500(http, url, log, case):
    path = '/errors/bad-status?case=' + case
    r = http.get(url(path))
    assert r.status_code == 500
    assert 'X-Injected' not in r.headers
    assert r.content != b'bad status was accepted'
    assert_logged(log, 'APW00301', '/errors/bad-status')


BAD_HEADER_CASES = ['value-crlf', 'value-lf', 'value-cr', 'value-nul',
                    'name-crlf', 'name-colon', 'name-space', 'name-empty',
                    'bytes-name', 'bytes-value', 'int-value', 'non-latin1',
                    'not-a-pair', 'not-a-list', 'dict']
HOP_BY_HOP_CASES = ['hop-connection', 'hop-keep-alive',
                    'hop-transfer-encoding', 'hop-upgrade', 'hop-te',
                    'hop-trailers', 'hop-proxy-authenticate',
                    'hop-proxy-authorization', 'hop-trailer',
                    'hop-lowercase', 'hop-uppercase']


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('case', BAD_HEADER_CASES + HOP_BY_HOP_CASES)
def test_bad_header_gives_500(server, log, case):
    status, headers, body = support.raw_get(
        server, '/errors/bad-header?case=' + case)
    assert status.startswith(b'HTTP/1.1 500 '), (status, headers)
    assert b'X-Injected' not in headers
    assert b'X-Test' not in headers
    assert b'bad header was accepted' not in body
    assert_logged(log, 'APW00301', '/errors/bad-header')


def test_exc_info_before_headers_replaces_response(http, url):
    r = http.get(url('/errors/exc-info-before'))
    assert (r.status_code, r.reason) == (503, 'Custom Failure')
    assert r.headers['X-Replaced'] == '1'
    assert r.content == b'custom error page'


# ---- after headers were sent: the connection is cut ----

@pytest.mark.expect_log('APW00302')
def test_exception_mid_stream_cuts_connection(server, log):
    assert_cut(server, '/errors/raise-mid-stream', b'part one\n')
    assert_traceback(log, 'APW00302', '/errors/raise-mid-stream',
                     'TestError: apwsgi-test-raise-mid-stream')


@pytest.mark.expect_log('APW00302')
def test_exception_after_write_cuts_connection(server, log):
    assert_cut(server, '/errors/write-then-raise', b'written\n')
    assert_traceback(log, 'APW00302', '/errors/write-then-raise',
                     'TestError: apwsgi-test-write-then-raise')


@pytest.mark.expect_log('APW00302')
def test_str_item_after_headers_cuts_connection(server, log):
    assert_cut(server, '/errors/str-item-later', b'ok\n')
    assert_logged(log, 'APW00302', '/errors/str-item-later', 'TypeError')


@pytest.mark.expect_log('APW00302')
def test_exc_info_after_headers_reraises(server, log):
    status, headers, body = support.raw_get(server, '/errors/exc-info-after')
    assert status == b'HTTP/1.1 200 OK'
    assert b'sent\n' in body
    assert b'must not be reached' not in body
    assert not body.endswith(b'0\r\n\r\n')
    assert_traceback(log, 'APW00302', '/errors/exc-info-after',
                     'TestError: apwsgi-test-exc-info-after')


@pytest.mark.expect_log('APW00302')
def test_exc_info_without_exception_is_a_type_error(server, log):
    status, headers, body = support.raw_get(server, '/errors/exc-info-bogus')
    assert status == b'HTTP/1.1 200 OK'
    assert b'must not be reached' not in body
    assert not body.endswith(b'0\r\n\r\n')
    assert_logged(log, 'APW00302', '/errors/exc-info-bogus',
                  'TypeError: exc_info[1] must be an exception instance, '
                  'not str')


@pytest.mark.expect_log('APW00301')
def test_sys_exit_is_a_500_and_process_survives(server, log):
    before = set(server.child_pids())
    for _ in range(3):
        with support.Client() as client:
            assert client.get(server.url('/errors/sys-exit')).status_code \
                == 500
    assert_logged(log, 'APW00301', '/errors/sys-exit', 'SystemExit')
    with support.Client() as client:
        r = client.get(server.url('/errors/ok'))
    assert (r.status_code, r.content) == (200, b'still serving')
    assert before <= set(server.child_pids())


@pytest.mark.expect_log('APW00501')   # the stale wsgi.errors write
@pytest.mark.parametrize('mount', ['/errors', '/errors-named'])
def test_stale_request_objects_are_harmless(http, url, mount):
    """Objects kept from a finished request neither crash the process nor
    touch the request being served now."""
    r = http.get(url(mount + '/stash'))
    assert (r.status_code, r.content) == (200, b'stashed')
    r = http.get(url(mount + '/use-stash'))
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'application/json'
    assert 'X-Stale' not in r.headers
    assert b'stale bytes' not in r.content
    results = r.json()
    # A stale object fails and does not act on this request, which has
    # objects of its own: the interpreter reuses a request's objects only
    # where nothing else holds them.
    assert results == {
        'same_input': 'ok:False', 'same_errors': 'ok:False',
        'read': 'ValueError', 'readline': 'ValueError',
        'iterate': 'ValueError', 'errors_write': 'ok:12',
        'errors_flush': 'ok:None', 'start_response': 'RuntimeError',
        'write': 'RuntimeError'}
