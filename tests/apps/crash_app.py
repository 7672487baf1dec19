# SPDX-License-Identifier: Apache-2.0
"""Crashes its own Apache child on purpose, for the tests of the log
check (test_log_check.py); mounted only on the servers those tests
start, never on the session server.

Endpoints (by PATH_INFO):
  /pid           the child's pid, as text
  /segv          sends SIGSEGV to its own process: the request is never
                 answered and the child dies
  /segv-at-exit  registers an exit handler that sends SIGSEGV to its own
                 process when the interpreter ends (at the child's exit,
                 after the stop began); answers 'armed'
"""

import atexit
import os
import signal
import time

DEATH_WAIT = 10.0   # seconds /segv waits for its own death at most


def _segv():
    os.kill(os.getpid(), signal.SIGSEGV)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/segv':
        _segv()
        deadline = time.monotonic() + DEATH_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.01)
        raise RuntimeError('apwsgi-test: SIGSEGV did not end the process')
    elif path == '/segv-at-exit':
        atexit.register(_segv)
        body = b'armed'
    else:
        body = b'%d' % os.getpid()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
