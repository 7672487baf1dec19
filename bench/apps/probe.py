# SPDX-License-Identifier: Apache-2.0
"""probe: which server and which interpreter answer (checked, not timed).

Endpoint: GET /probe -> 200 application/json with the Python version, the
process id, the interpreter id (0 is the main interpreter), whether
mod_wsgi's own environ keys are present, and the mod_wsgi.* keys that
apwsgi reads.  The harness uses it to check that each contender really
is the server it claims to be before it measures it.
"""

import json
import os
import sys


def _interpreter_id():
    for name in ('_interpreters', '_xxsubinterpreters'):
        try:
            mod = __import__(name)
            current = mod.get_current()
            return int(current[0] if isinstance(current, tuple) else current)
        except Exception:
            continue
    return None


def application(environ, start_response):
    data = {
        'python': sys.version.split()[0],
        'pid': os.getpid(),
        'interpreter_id': _interpreter_id(),
        'server_software': environ.get('SERVER_SOFTWARE', ''),
        'mod_wsgi_version': environ.get('mod_wsgi.version'),
        'mod_wsgi_application_group':
            environ.get('mod_wsgi.application_group'),
        'apwsgi_keys': {key: value for key, value in environ.items()
                        if key in ('mod_wsgi.application',
                                   'mod_wsgi.interpreter',
                                   'mod_wsgi.interpreters', 'mod_wsgi.gil')},
        'multithread': environ.get('wsgi.multithread'),
        'multiprocess': environ.get('wsgi.multiprocess'),
    }
    body = json.dumps(data, default=str).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
