# SPDX-License-Identifier: Apache-2.0
"""The WSGI side of test_modpython_mode.py.

Any path: JSON {"server": "apwsgi", "pid", "is_main" (main interpreter),
"mp_interp" (mod_python.apache.interpreter: the name mod_python gave this
interpreter, or null where mod_python has not set it up), "values"
(shared_state.values), "first" (shared_state.first)}.
/set?key=K&value=V sets values[K] = V first; /atexit?file=PATH registers
an atexit handler that writes 'atexit ran' to PATH.  /text answers
text/plain 'wsgi says V' with V = values['greeting'].
"""

import atexit
import json
import os
import sys
from urllib.parse import parse_qs

import shared_state


def _is_main():
    import _xxsubinterpreters as interpreters
    return interpreters.get_current() == interpreters.get_main()


def _write(path):
    with open(path, 'w') as f:
        f.write('atexit ran\n')


def application(environ, start_response):
    shared_state.used_by('apwsgi')
    query = {k: v[0] for k, v in
             parse_qs(environ.get('QUERY_STRING', '')).items()}
    path = environ.get('PATH_INFO', '')
    if path == '/set':
        shared_state.values[query['key']] = query['value']
    elif path == '/atexit':
        atexit.register(_write, query['file'])
    if path == '/text':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'wsgi says %s' % shared_state.values['greeting'].encode()]
    mp = sys.modules.get('mod_python.apache')
    body = json.dumps({'server': 'apwsgi', 'pid': os.getpid(),
                       'is_main': _is_main(),
                       'mp_interp': getattr(mp, 'interpreter', None),
                       'values': shared_state.values,
                       'first': shared_state.first})
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body.encode('ascii')]
