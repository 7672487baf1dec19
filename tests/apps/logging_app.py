# SPDX-License-Identifier: Apache-2.0
"""Write to wsgi.errors, sys.stdout and sys.stderr.

Every endpoint takes ?token=T and writes lines that contain T, then
returns b'logged'.

Endpoints (by PATH_INFO):
  /errors      wsgi.errors: write('werr-T one\n'), writelines(['werr-T two\n',
               'werr-T three\n']), write('werr-T four-'), write('part\n'),
               flush()
  /print       print('pout-T hello')
  /stderr      sys.stderr.write('serr-T hello\n')
  /multi       wsgi.errors.write('werr-T a\nwerr-T b\n') (one call, 2 lines)
  /flush       wsgi.errors.write('werr-T unterminated'), flush(), then
               waits until STATE/flushed-T exists (at most FLUSH_WAIT
               seconds) before it answers, so that the test sees the line
               while the request still runs
  /bytes       sys.stdout.buffer.write(b'bout-T caf\xc3\xa9 \xff end\n'),
               sys.stderr.buffer.writelines([b'berr-T x', b'\n']),
               wsgi.errors.buffer.write(bytearray(b'bwerr-T y\n')),
               sys.stdout.buffer.write(b'bout-T mixed '),
               sys.stdout.write('tail\n'), print('pout-T lone \\udcff'),
               and io.TextIOWrapper(sys.stdout.buffer, ...) writing
               'tw-T wrapped\n'
  /attrs       JSON: for each of stdout, stderr, errors and their buffers,
               {attribute or method: value, or the exception's type name}
"""

import io
import json
import os
import sys
import time

from apphelpers import state_path

FLUSH_WAIT = 20.0


def _probe(stream):
    """What code that expects a real stream reads from `stream`."""
    out = {}
    for attr in ('encoding', 'errors', 'line_buffering', 'closed', 'name',
                 'mode', 'newlines', 'write_through'):
        try:
            out[attr] = getattr(stream, attr)
        except Exception as exc:
            out[attr] = 'raises ' + type(exc).__name__
    for call in ('isatty', 'writable', 'readable', 'seekable', 'fileno',
                 'read', 'readline', 'tell', 'flush', 'close', 'detach'):
        try:
            out[call + '()'] = getattr(stream, call)()
        except io.UnsupportedOperation as exc:
            out[call + '()'] = 'raises UnsupportedOperation (%s%s)' % (
                'OSError ' if isinstance(exc, OSError) else '',
                'ValueError' if isinstance(exc, ValueError) else '')
        except Exception as exc:
            out[call + '()'] = 'raises ' + type(exc).__name__
    out['closed_after_close'] = stream.closed
    return out


def _attrs(environ, tok):
    streams = {'stdout': sys.stdout, 'stderr': sys.stderr,
               'errors': environ['wsgi.errors']}
    out = {}
    for name, stream in streams.items():
        out[name] = _probe(stream)
        out[name + '.buffer'] = _probe(stream.buffer)
        out[name + '.has_buffer_buffer'] = hasattr(stream.buffer, 'buffer')
    out['stdout.reconfigure'] = sys.stdout.reconfigure(encoding='utf-8',
                                                       errors='strict')
    out['stdout.write'] = sys.stdout.write('attrs-%s \xe9\n' % tok)
    out['stdout.buffer.write'] = sys.stdout.buffer.write(
        memoryview(b'battrs-%s \xc3\xa9\n' % tok.encode()))
    for name, stream, arg in (('text_bytes', sys.stdout, b'x'),
                              ('buffer_str', sys.stdout.buffer, 'x')):
        try:
            stream.write(arg)
            out[name] = 'accepted'
        except TypeError:
            out[name] = 'TypeError'
    return json.dumps(out).encode()


def _bytes(environ, tok):
    errors = environ['wsgi.errors']
    sys.stdout.buffer.write(b'bout-%s caf\xc3\xa9 \xff end\n' % tok.encode())
    sys.stderr.buffer.writelines([b'berr-%s x' % tok.encode(), b'\n'])
    errors.buffer.write(bytearray(b'bwerr-%s y\n' % tok.encode()))
    sys.stdout.buffer.write(b'bout-%s mixed ' % tok.encode())
    sys.stdout.write('tail\n')
    print('pout-%s lone \udcff' % tok)
    wrapped = io.TextIOWrapper(sys.stdout.buffer, encoding='utf-8',
                               line_buffering=True)
    wrapped.write('tw-%s wrapped\n' % tok)
    wrapped.close()
    print('pout-%s after' % tok)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    tok = environ.get('QUERY_STRING', '').partition('token=')[2]
    errors = environ['wsgi.errors']
    if path == '/errors':
        errors.write('werr-%s one\n' % tok)
        errors.writelines(['werr-%s two\n' % tok, 'werr-%s three\n' % tok])
        errors.write('werr-%s four-' % tok)
        errors.write('part\n')
        errors.flush()
    elif path == '/print':
        print('pout-%s hello' % tok)
    elif path == '/stderr':
        sys.stderr.write('serr-%s hello\n' % tok)
    elif path == '/multi':
        errors.write('werr-%s a\nwerr-%s b\n' % (tok, tok))
    elif path == '/flush':
        errors.write('werr-%s unterminated' % tok)
        errors.flush()
        marker = state_path(environ, 'flushed-' + tok)
        deadline = time.monotonic() + FLUSH_WAIT
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
    elif path == '/bytes':
        _bytes(environ, tok)
    elif path == '/attrs':
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [_attrs(environ, tok)]
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'logged']
