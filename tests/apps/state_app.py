# SPDX-License-Identifier: Apache-2.0
"""Report which interpreter serves a request, and keep state in it.

Endpoints (by PATH_INFO; all return JSON with "pid", "interp" (the
interpreter id), "is_main", "modules_id" (id of sys.modules) and "name"
(environ mod_wsgi.interpreter)):
  /whoami            + "counter": per-interpreter request count of this app
  /set?value=V       stores V in a module global and on the sys module
  /get               + "value" (module global), "sys_value" (sys attribute)
  /syspath           + "path": sys.path
  /atexit?file=F     registers an atexit handler that writes STATE/F
  /pyinfo            + version, prefix, base_prefix, exec_prefix,
                     executable, os_file, encodings_file,
                     has_flask (importlib.util.find_spec('flask') found)
  /sleep?s=S[&file=F]  sleeps S seconds first (after creating STATE/F
                     when F is given), then like /whoami
  /thread            + "ident" (threading.get_ident()) and "local_count"
                     (a threading.local counter: it survives only if the
                     thread state is reused across requests)
  /bgthread?s=S      starts a daemon thread that lives S seconds (sleeping
                     in 50 ms steps), to check shutdown with threads alive
"""

import atexit
import importlib.util
import json
import os
import sys
import threading
import time

from apphelpers import interp_ids, query, state_path, write_file

STATE = {'counter': 0, 'value': None}
LOCAL = threading.local()


def _linger(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    if path == '/sleep':
        if 'file' in q:
            write_file(state_path(environ, q['file']),
                        'sleeping\n')
        time.sleep(float(q['s']))
    STATE['counter'] += 1
    cur, main = interp_ids()
    out = {'pid': os.getpid(), 'interp': cur,
           'is_main': None if cur is None else cur == main,
           'modules_id': id(sys.modules),
           'name': environ.get('mod_wsgi.interpreter'),
           'counter': STATE['counter']}
    if path == '/set':
        STATE['value'] = q['value']
        sys.apwsgi_test_value = q['value']
    elif path == '/get':
        out['value'] = STATE['value']
        out['sys_value'] = getattr(sys, 'apwsgi_test_value', None)
    elif path == '/syspath':
        out['path'] = list(sys.path)
    elif path == '/atexit':
        target = state_path(environ, q['file'])
        atexit.register(write_file, target, 'atexit ran in %s\n' % (
            environ.get('mod_wsgi.interpreter') or 'main'))
    elif path == '/thread':
        LOCAL.count = getattr(LOCAL, 'count', 0) + 1
        out['ident'] = threading.get_ident()
        out['local_count'] = LOCAL.count
    elif path == '/bgthread':
        threading.Thread(target=_linger, args=(float(q['s']),),
                         daemon=True).start()
    elif path == '/pyinfo':
        import encodings
        out.update(version='%d.%d.%d' % sys.version_info[:3],
                   prefix=sys.prefix, base_prefix=sys.base_prefix,
                   exec_prefix=sys.exec_prefix, executable=sys.executable,
                   os_file=os.__file__, encodings_file=encodings.__file__,
                   has_flask=importlib.util.find_spec('flask') is not None)
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
