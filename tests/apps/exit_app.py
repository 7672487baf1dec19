# SPDX-License-Identifier: Apache-2.0
"""What keeps a stopping Apache child from exiting.

Endpoints (by PATH_INFO; JSON with "pid" and "interpreter" (environ
apwsgi.interpreter)):
  /whoami               nothing more
  /thread?name=N        starts a non-daemon thread named N (explicitly:
                        a thread started from one of Apache's threads is
                        a daemon one by default) that runs Python
                        (sleeping 20 ms at a time) without end
  /spin?file=F          creates STATE/F, then runs Python without end
                        (the request never returns)
  /busy?file=F          creates STATE/F, then runs Python without end and
                        without sleeping (it holds the GIL)
  /block?file=F         creates STATE/F, then sleeps an hour in C
                        (time.sleep: no Python runs meanwhile)
  /atexit-block         registers an atexit handler that runs Python
                        without end
"""

import atexit
import json
import os
import threading
import time

from apphelpers import query, state_path, write_file


def _spin():
    while True:
        time.sleep(0.02)


def _block_at_exit():
    _spin()


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    out = {'pid': os.getpid(),
           'interpreter': environ.get('apwsgi.interpreter')}
    if path == '/thread':
        threading.Thread(target=_spin, name=q['name'],
                         daemon=False).start()
    elif path == '/spin':
        write_file(state_path(environ, q['file']), 'running\n')
        _spin()
    elif path == '/busy':
        write_file(state_path(environ, q['file']), 'running\n')
        while True:
            pass
    elif path == '/block':
        write_file(state_path(environ, q['file']), 'running\n')
        time.sleep(3600)
    elif path == '/atexit-block':
        atexit.register(_block_at_exit)
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
