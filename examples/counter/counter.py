# SPDX-License-Identifier: Apache-2.0
"""A per-interpreter request counter, to see interpreter isolation.

The counter is a module global, so each interpreter that imports this
module has its own, and so does each Apache child process.

Endpoints (conf/examples.conf mounts it in two named interpreters):
    GET /alpha/        interpreter "alpha"
    GET /also-alpha/   the same interpreter "alpha", another Location
    GET /beta/         interpreter "beta"
Each returns text/plain: interpreter name, process id, count so far.
"""

import os
import threading

_lock = threading.Lock()
_count = 0


def application(environ, start_response):
    global _count
    with _lock:
        _count += 1
        count = _count
    name = environ.get('mod_wsgi.interpreter') or '(main)'
    body = ('interpreter  %s\n'
            'process      %d\n'
            'requests     %d  (counted by this interpreter in this process)\n'
            % (name, os.getpid(), count)).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]
