# SPDX-License-Identifier: Apache-2.0
"""wsgi.errors, sys.stdout and sys.stderr go to the Apache error log, one
entry per line, tagged APW00501 / APW00502 / APW00503."""

import concurrent.futures

import pytest

import support

pytestmark = [pytest.mark.core,
              pytest.mark.expect_log('APW00501', 'APW00502', 'APW00503')]

MOUNTS = ['/log', '/log-named']


def call(http, url, mount, path):
    tok = support.token()
    r = http.get(url('%s%s?token=%s' % (mount, path, tok)))
    assert (r.status_code, r.content) == (200, b'logged')
    return tok


def message(line, tag):
    """The logged text after 'TAG: '."""
    return line.split(tag + ': ', 1)[1]


@pytest.mark.parametrize('mount', MOUNTS)
def test_wsgi_errors_lines(http, url, log, mount):
    tok = call(http, url, mount, '/errors')
    expected = ['werr-%s one' % tok, 'werr-%s two' % tok,
                'werr-%s three' % tok, 'werr-%s four-part' % tok]
    log.wait(expected[-1], tag='APW00501')
    got = [message(line, 'APW00501') for line in log.tagged('APW00501', tok)]
    assert [g.rstrip() for g in got] == expected


@pytest.mark.parametrize('mount', MOUNTS)
def test_one_write_two_lines(http, url, log, mount):
    tok = call(http, url, mount, '/multi')
    log.wait('werr-%s b' % tok, tag='APW00501')
    got = [message(line, 'APW00501').rstrip()
           for line in log.tagged('APW00501', tok)]
    assert got == ['werr-%s a' % tok, 'werr-%s b' % tok]


@pytest.mark.parametrize('mount', MOUNTS)
def test_flush_writes_partial_line(http, url, log, state, mount):
    """flush() logs the partial line at once: the line is in the log
    while the request still runs (the app waits for the test's marker
    after its flush), and once only (not again at the request's end)."""
    tok = support.token()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        request = pool.submit(http.get, url('%s/flush?token=%s'
                                            % (mount, tok)))
        try:
            log.wait('werr-%s unterminated' % tok, tag='APW00501')
            assert not request.done(), 'the request ended before the line'
        finally:
            (state / ('flushed-' + tok)).write_text('go')
        r = request.result()
    assert (r.status_code, r.content) == (200, b'logged')
    line, = log.tagged('APW00501', tok)
    assert message(line, 'APW00501').rstrip() == 'werr-%s unterminated' % tok


@pytest.mark.parametrize('mount', MOUNTS)
def test_print_goes_to_error_log(http, url, log, mount):
    tok = call(http, url, mount, '/print')
    line, = log.wait('pout-%s hello' % tok, tag='APW00502')
    assert message(line, 'APW00502').rstrip() == 'pout-%s hello' % tok


@pytest.mark.parametrize('mount', MOUNTS)
def test_stderr_goes_to_error_log(http, url, log, mount):
    tok = call(http, url, mount, '/stderr')
    line, = log.wait('serr-%s hello' % tok, tag='APW00503')
    assert message(line, 'APW00503').rstrip() == 'serr-%s hello' % tok


@pytest.mark.parametrize('mount', MOUNTS)
def test_binary_buffers(http, url, log, mount):
    """sys.stdout.buffer, sys.stderr.buffer and wsgi.errors.buffer take
    bytes: decoded as UTF-8 (a bad byte as \\xNN), into the same lines
    with the same tags as the text streams."""
    tok = call(http, url, mount, '/bytes')
    log.wait('pout-%s after' % tok, tag='APW00502')
    out = [message(line, 'APW00502').rstrip()
           for line in log.tagged('APW00502', tok)]
    # Apache's error log shows bytes >= 0x80 as \xNN, '\' as '\\'.
    assert out == ['bout-%s caf\\xc3\\xa9 \\\\xff end' % tok,
                   'bout-%s mixed tail' % tok,
                   'pout-%s lone \\\\udcff' % tok,
                   'tw-%s wrapped' % tok,
                   'pout-%s after' % tok], out
    err, = log.tagged('APW00503', 'berr-%s' % tok)
    assert message(err, 'APW00503').rstrip() == 'berr-%s x' % tok
    werr, = log.tagged('APW00501', 'bwerr-%s' % tok)
    assert message(werr, 'APW00501').rstrip() == 'bwerr-%s y' % tok


UNSUPPORTED = 'raises UnsupportedOperation (OSError ValueError)'


@pytest.mark.parametrize('mount', MOUNTS)
def test_stream_attributes(http, url, log, mount):
    tok = support.token()
    r = http.get(url('%s/attrs?token=%s' % (mount, tok)))
    assert r.status_code == 200, r.text
    got = r.json()
    names = {'stdout': '<stdout>', 'stderr': '<stderr>',
             'errors': 'wsgi.errors'}
    for name, shown in names.items():
        text, binary = got[name], got[name + '.buffer']
        assert text == {
            'encoding': 'utf-8', 'errors': 'backslashreplace',
            'line_buffering': True, 'closed': False, 'name': shown,
            'mode': 'w', 'newlines': None, 'write_through': True,
            'isatty()': False, 'writable()': True, 'readable()': False,
            'seekable()': False, 'fileno()': UNSUPPORTED,
            'read()': UNSUPPORTED, 'readline()': UNSUPPORTED,
            'tell()': UNSUPPORTED, 'flush()': None, 'close()': None,
            'detach()': UNSUPPORTED, 'closed_after_close': False}, name
        assert binary == {
            'encoding': 'raises AttributeError',
            'errors': 'raises AttributeError',
            'line_buffering': 'raises AttributeError', 'closed': False,
            'name': shown, 'mode': 'wb',
            'newlines': 'raises AttributeError',
            'write_through': 'raises AttributeError',
            'isatty()': False, 'writable()': True, 'readable()': False,
            'seekable()': False, 'fileno()': UNSUPPORTED,
            'read()': UNSUPPORTED, 'readline()': UNSUPPORTED,
            'tell()': UNSUPPORTED, 'flush()': None, 'close()': None,
            'detach()': UNSUPPORTED, 'closed_after_close': False}, name
        assert got[name + '.has_buffer_buffer'] is False
    assert got['stdout.reconfigure'] is None
    assert got['stdout.write'] == len('attrs-%s \xe9\n' % tok)
    assert got['stdout.buffer.write'] == len('battrs-%s \xc3\xa9\n' % tok)
    assert (got['text_bytes'], got['buffer_str']) == ('TypeError',
                                                      'TypeError')
    log.wait('battrs-%s \\xc3\\xa9' % tok, tag='APW00502')
    log.wait('attrs-%s \\xc3\\xa9' % tok, tag='APW00502')
