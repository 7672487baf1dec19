# SPDX-License-Identifier: Apache-2.0
"""Applications that misbehave, one way per endpoint.

Every exception message starts with 'apwsgi-test-' and names the endpoint,
so tests find its traceback in the error log.

Endpoints (by PATH_INFO):
  /raise                 raises before start_response
  /raise-after-start     start_response, then raises before returning
  /raise-in-first-next   start_response; generator raises before any block
  /raise-after-empty     generator yields b'' then raises (headers not sent)
  /raise-mid-stream      generator yields b'part one\n' then raises
  /write-then-raise      write(b'written\n') then raises
  /str-item              returns ['a str, not bytes']
  /str-item-later        generator yields b'ok\n' then a str
  /none                  returns None
  /int-iterable          returns 42
  /no-start-response     returns [b'x'] without calling start_response
  /start-twice           calls start_response twice without exc_info
  /bad-status?case=C     start_response(BAD_STATUS[C], ...)
  /bad-header?case=C     start_response('200 OK', BAD_HEADERS[C])
  /exc-info-before       start_response, exception caught, start_response
                         again with exc_info: '503 Custom Failure', body
                         b'custom error page'
  /exc-info-after        yields b'sent\n', then start_response with exc_info
                         (which must re-raise) -> connection cut
  /exc-info-bogus        the same with exc_info (None, 'not an exception',
                         None): start_response raises TypeError
  /sys-exit              sys.exit(3)
  /keyboard-interrupt    raises KeyboardInterrupt
  /ok                    b'still serving', X-Pid header
  /stash                 keeps this request's wsgi.input, wsgi.errors,
                         start_response and write in a module global
  /use-stash             uses those stale objects in a later request; JSON
                         {name: 'ok:<repr>' or exception type name},
                         same_input/same_errors: whether this request's
                         objects are the stashed ones
Module attribute NOT_CALLABLE (42) is for the "not callable" config test.
"""

import os
import sys

NOT_CALLABLE = 42
STASH = {}

BAD_STATUS = {
    'no-code': 'OK',
    'short-code': '20 OK',
    'long-code': '2000 OK',
    'no-reason': '200',
    'letters': 'abc OK',
    'bytes': b'200 OK',
    'int': 200,
    'crlf': '200 OK\r\nX-Injected: 1',
    'lf': '200 OK\nX-Injected: 1',
}

BAD_HEADERS = {
    'value-crlf': [('X-Test', 'a\r\nX-Injected: 1')],
    'value-lf': [('X-Test', 'a\nX-Injected: 1')],
    'value-cr': [('X-Test', 'a\rX-Injected: 1')],
    'value-nul': [('X-Test', 'a\x00b')],
    'name-crlf': [('X-Test\r\nX-Injected', '1')],
    'name-colon': [('X-Test: X-Injected', '1')],
    'name-space': [('X Test', '1')],
    'name-empty': [('', '1')],
    'bytes-name': [(b'X-Test', '1')],
    'bytes-value': [('X-Test', b'1')],
    'int-value': [('X-Test', 1)],
    'non-latin1': [('X-Test', '\u20ac')],
    'not-a-pair': [('X-Test', '1', 'extra')],
    'not-a-list': 'X-Test: 1',
    'dict': {'X-Test': '1'},
    'hop-connection': [('Connection', 'close')],
    'hop-keep-alive': [('Keep-Alive', 'timeout=5')],
    'hop-transfer-encoding': [('Transfer-Encoding', 'chunked')],
    'hop-upgrade': [('Upgrade', 'h2c')],
    'hop-te': [('TE', 'trailers')],
    'hop-trailers': [('Trailers', 'X-Foo')],
    'hop-proxy-authenticate': [('Proxy-Authenticate', 'Basic')],
    'hop-proxy-authorization': [('Proxy-Authorization', 'Basic eA==')],
    'hop-trailer': [('Trailer', 'X-Foo')],
    'hop-lowercase': [('connection', 'close')],
    'hop-uppercase': [('TRANSFER-ENCODING', 'chunked')],
}


class TestError(Exception):
    pass


def _raise_after_empty():
    yield b''
    raise TestError('apwsgi-test-raise-after-empty')


def _raise_in_first_next():
    raise TestError('apwsgi-test-raise-in-first-next')
    yield b'never'  # unreachable: it makes this function a generator


def _raise_mid_stream():
    yield b'part one\n'
    raise TestError('apwsgi-test-raise-mid-stream')


def _str_item_later():
    yield b'ok\n'
    yield 'a str, later'


def _exc_info_after(start_response):
    yield b'sent\n'
    try:
        raise TestError('apwsgi-test-exc-info-after')
    except TestError:
        start_response('500 Internal Server Error',
                       [('Content-Type', 'text/plain')], sys.exc_info())
    yield b'must not be reached\n'


def _exc_info_bogus(start_response):
    yield b'sent\n'
    start_response('500 Internal Server Error',
                   [('Content-Type', 'text/plain')],
                   (None, 'apwsgi-test-not-an-exception', None))
    yield b'must not be reached\n'


def _use_stash(environ, start_response):
    import json
    uses = [
        ('same_input', lambda: environ['wsgi.input'] is STASH['input']),
        ('same_errors', lambda: environ['wsgi.errors'] is STASH['errors']),
        ('read', lambda: STASH['input'].read(10)),
        ('readline', lambda: STASH['input'].readline()),
        ('iterate', lambda: list(STASH['input'])),
        ('errors_write', lambda: STASH['errors'].write('stale write\n')),
        ('errors_flush', lambda: STASH['errors'].flush()),
        ('start_response', lambda: STASH['start_response'](
            '299 Stale', [('X-Stale', '1')])),
        ('write', lambda: STASH['write'](b'stale bytes')),
    ]
    results = {}
    for name, use in uses:
        try:
            results[name] = 'ok:%r' % (use(),)
        except BaseException as exc:  # report, whatever it is
            results[name] = type(exc).__name__
    body = json.dumps(results).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    case = environ.get('QUERY_STRING', '').partition('case=')[2]
    plain = [('Content-Type', 'text/plain')]
    if path == '/raise':
        raise TestError('apwsgi-test-raise')
    if path == '/raise-after-start':
        start_response('200 OK', plain)
        raise TestError('apwsgi-test-raise-after-start')
    if path == '/raise-in-first-next':
        start_response('200 OK', plain)
        return _raise_in_first_next()
    if path == '/raise-after-empty':
        start_response('200 OK', plain)
        return _raise_after_empty()
    if path == '/raise-mid-stream':
        start_response('200 OK', plain)
        return _raise_mid_stream()
    if path == '/write-then-raise':
        write = start_response('200 OK', plain)
        write(b'written\n')
        raise TestError('apwsgi-test-write-then-raise')
    if path == '/str-item':
        start_response('200 OK', plain)
        return ['a str, not bytes']
    if path == '/str-item-later':
        start_response('200 OK', plain)
        return _str_item_later()
    if path == '/none':
        start_response('200 OK', plain)
        return None
    if path == '/int-iterable':
        start_response('200 OK', plain)
        return 42
    if path == '/no-start-response':
        return [b'x']
    if path == '/start-twice':
        start_response('200 OK', plain)
        start_response('201 Created', plain)
        return [b'start twice']
    if path == '/bad-status':
        start_response(BAD_STATUS[case], plain)
        return [b'bad status was accepted']
    if path == '/bad-header':
        start_response('200 OK', BAD_HEADERS[case])
        return [b'bad header was accepted']
    if path == '/exc-info-before':
        start_response('200 OK', plain)
        try:
            raise TestError('apwsgi-test-exc-info-before')
        except TestError:
            start_response('503 Custom Failure', plain + [('X-Replaced', '1')],
                           sys.exc_info())
        return [b'custom error page']
    if path == '/exc-info-after':
        start_response('200 OK', plain)
        return _exc_info_after(start_response)
    if path == '/exc-info-bogus':
        start_response('200 OK', plain)
        return _exc_info_bogus(start_response)
    if path == '/sys-exit':
        sys.exit(3)
    if path == '/keyboard-interrupt':
        raise KeyboardInterrupt('apwsgi-test-keyboard-interrupt')
    if path == '/stash':
        STASH.update(input=environ['wsgi.input'],
                     errors=environ['wsgi.errors'],
                     start_response=start_response,
                     write=start_response('200 OK', plain))
        return [b'stashed']
    if path == '/use-stash':
        return _use_stash(environ, start_response)
    if path == '/ok':
        start_response('200 OK', plain + [('X-Pid', str(os.getpid()))])
        return [b'still serving']
    start_response('404 Not Found', plain)
    return [b'no such endpoint']
