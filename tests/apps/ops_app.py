# SPDX-License-Identifier: Apache-2.0
"""Requests to watch on the status page and to time out.

Endpoints (by PATH_INFO; STATE is environ["APWSGI_TEST_STATE"]):
  /hello               b'hello' (200)
  /pid                 the serving process's pid, as text
  /status?s=CODE       start_response(CODE), body b'status'
  /echo                reads the whole body, returns it
  /raise               raises RuntimeError before start_response
  /spin[/ANY]?token=T&max=S
                       creates STATE/spin-T-started, then loops in Python
                       (50 ms sleeps) in spin_until_released() until
                       STATE/spin-T-stop exists or S seconds passed
                       (default 30); then b'released' or b'gave up'
  /spin-started?token=T&max=S
                       the same, but yields b'started\\n' first (the
                       response has begun when the loop runs)
  /block?s=S           one time.sleep(S): blocked in C, the GIL released
  /catch?max=S         like /spin, but catches apwsgi.RequestTimeout
                       (from environ) and answers 200 b'caught <name>'
"""

import os
import time

from apphelpers import query, write_file


def spin_until_released(state, token, limit):
    """Loop in Python until STATE/spin-TOKEN-stop exists; -> released."""
    stop = os.path.join(state, 'spin-%s-stop' % token)
    deadline = time.monotonic() + limit
    # Only calls into C in the loop (os.stat, not os.path.exists): a
    # stack taken at any moment ends in this function.
    while time.monotonic() < deadline:
        try:
            os.stat(stop)
            return True
        except FileNotFoundError:
            time.sleep(0.05)
    return False


def _started(state, token):
    write_file(os.path.join(state, 'spin-%s-started' % token),
               str(os.getpid()))


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    state = environ['APWSGI_TEST_STATE']
    limit = float(q.get('max', '30'))
    if path == '/hello':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'hello']
    if path == '/pid':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [str(os.getpid()).encode()]
    if path == '/status':
        start_response(q.get('s', '200') + ' X', [])
        return [b'status']
    if path == '/echo':
        body = environ['wsgi.input'].read()
        start_response('200 OK',
                       [('Content-Type', 'application/octet-stream')])
        return [body]
    if path == '/raise':
        raise RuntimeError('ops_app: raised on purpose')
    if path == '/spin' or path.startswith('/spin/'):
        token = q.get('token', 'x')
        _started(state, token)
        done = spin_until_released(state, token, limit)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'released' if done else b'gave up']
    if path == '/spin-started':
        return _spin_started(start_response, state, q.get('token', 'x'),
                             limit)
    if path == '/block':
        time.sleep(float(q.get('s', '1')))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'woke']
    if path == '/catch':
        try:
            spin_until_released(state, 'never', limit)
        except environ['apwsgi.RequestTimeout'] as exc:
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [('caught %s.%s %s' % (
                type(exc).__module__, type(exc).__qualname__,
                isinstance(exc, TimeoutError))).encode()]
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'not caught']
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found']


def _spin_started(start_response, state, token, limit):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'started\n'
    _started(state, token)
    done = spin_until_released(state, token, limit)
    yield b'released\n' if done else b'gave up\n'
