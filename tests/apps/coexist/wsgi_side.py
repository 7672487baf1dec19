# SPDX-License-Identifier: Apache-2.0
"""The apwsgi side of test_coexist.py.

Endpoint (any path): JSON {"server": "apwsgi", "pid", "version",
"executable", "prefix", "is_main" (main interpreter), "shared"
(sys.apwsgi_coexist, which mod_python's handler sets when both run in
the main interpreter), "mod_python" (whether the mod_python package is
imported in this interpreter)}; /set?value=V sets sys.apwsgi_coexist
first; /atexit?file=PATH registers an atexit handler that writes
'atexit ran' to PATH.
"""

import atexit
import json
import os
import sys
from urllib.parse import parse_qs


def _is_main():
    try:
        import _xxsubinterpreters as interpreters
    except ImportError:
        return None
    return interpreters.get_current() == interpreters.get_main()


def _write(path):
    with open(path, 'w') as f:
        f.write('atexit ran\n')


def application(environ, start_response):
    query = {k: v[0] for k, v in
             parse_qs(environ.get('QUERY_STRING', '')).items()}
    if environ.get('PATH_INFO') == '/set':
        sys.apwsgi_coexist = query['value']
    elif environ.get('PATH_INFO') == '/atexit':
        atexit.register(_write, query['file'])
    body = json.dumps({'server': 'apwsgi', 'pid': os.getpid(),
                       'version': sys.version.split()[0],
                       'executable': sys.executable,
                       'prefix': sys.prefix,
                       'is_main': _is_main(),
                       'shared': getattr(sys, 'apwsgi_coexist', None),
                       'mod_python': 'mod_python' in sys.modules})
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body.encode('ascii')]
