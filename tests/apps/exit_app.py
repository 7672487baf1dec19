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
from urllib.parse import parse_qs


def _spin():
    while True:
        time.sleep(0.02)


def _block_at_exit():
    _spin()


def _mark(environ, name):
    with open(os.path.join(environ['APWSGI_TEST_STATE'], name), 'w') as f:
        f.write('running\n')


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}
    out = {'pid': os.getpid(), 'interpreter': environ.get('apwsgi.interpreter')}
    if path == '/thread':
        threading.Thread(target=_spin, name=q['name'], daemon=False).start()
    elif path == '/spin':
        _mark(environ, q['file'])
        _spin()
    elif path == '/block':
        _mark(environ, q['file'])
        time.sleep(3600)
    elif path == '/atexit-block':
        atexit.register(_block_at_exit)
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
