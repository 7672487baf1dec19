# SPDX-License-Identifier: Apache-2.0
"""Which interpreter serves a request, its state, and its end.

Endpoints (by PATH_INFO; all return JSON with "pid", "interpreter"
(environ apwsgi.interpreter: '' for main, 'NAME', or 'NAME#i' in a
pool), "interp" (the interpreter id), "modules_id" (id of sys.modules)
and "counter" (this app's request count in that interpreter)):
  /whoami              nothing more
  /set?value=V         stores V in a module global and on the sys module
  /get                 + "value" (module global), "sys_value" (sys attr)
  /barrier?dir=D&n=N   records its arrival in STATE/D and waits (sleeping,
                       so the GIL is free) until N requests arrived there;
                       + "arrived"; 504 when they do not within 8 s
  /sleep?s=S           sleeps S seconds first
  /atexit?file=F       registers an atexit handler that writes STATE/F
                       (the interpreter's name) when the interpreter ends
  /thread?name=N&stop=F[&daemon=1]
                       starts a thread named N (non-daemon unless
                       daemon=1) that runs Python until STATE/F exists,
                       and creates STATE/F.asked when its interpreter
                       starts to end
  /executor            runs one task in a concurrent.futures thread pool
                       that it keeps, so idle non-daemon workers remain
"""

import atexit
import concurrent.futures
import json
import os
import sys
import threading
import time
import uuid

from apphelpers import interp_id, query, write_file

STATE = {'counter': 0, 'value': None}
BARRIER_TIMEOUT = 8.0


def _spin_until(path):
    """Run Python (sleeping 20 ms at a time) until `path` exists; once
    threading shuts down (its interpreter ends), create `path`.asked."""
    asked = False
    while not os.path.exists(path):
        if not asked and threading._SHUTTING_DOWN:
            write_file(path + '.asked', '')
            asked = True
        time.sleep(0.02)


def _barrier(directory, n):
    """Arrive at the barrier in `directory`; wait for n arrivals."""
    os.makedirs(directory, mode=0o777, exist_ok=True)
    write_file(os.path.join(directory, uuid.uuid4().hex), '')
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while True:
        arrived = len(os.listdir(directory))
        if arrived >= n or time.monotonic() >= deadline:
            return arrived
        time.sleep(0.02)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    state_dir = environ['APWSGI_TEST_STATE']
    status = '200 OK'
    if path == '/sleep':
        time.sleep(float(q['s']))
    STATE['counter'] += 1
    out = {'pid': os.getpid(),
           'interpreter': environ.get('apwsgi.interpreter'),
           'interp': interp_id(), 'modules_id': id(sys.modules),
           'counter': STATE['counter']}
    if path == '/set':
        STATE['value'] = q['value']
        sys.apwsgi_test_value = q['value']
    elif path == '/get':
        out['value'] = STATE['value']
        out['sys_value'] = getattr(sys, 'apwsgi_test_value', None)
    elif path == '/barrier':
        n = int(q['n'])
        out['arrived'] = _barrier(os.path.join(state_dir, q['dir']), n)
        if out['arrived'] < n:
            status = '504 Gateway Timeout'
    elif path == '/thread':
        threading.Thread(target=_spin_until, name=q['name'],
                         args=(os.path.join(state_dir, q['stop']),),
                         daemon=q.get('daemon') == '1').start()
    elif path == '/executor':
        pool = STATE.setdefault(
            'pool', concurrent.futures.ThreadPoolExecutor(2))
        out['task'] = pool.submit(sum, [1, 2]).result()
    elif path == '/atexit':
        atexit.register(write_file, os.path.join(state_dir, q['file']),
                        environ.get('apwsgi.interpreter') or '(main)')
    body = json.dumps(out).encode('ascii')
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]
