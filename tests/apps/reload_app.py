# SPDX-License-Identifier: Apache-2.0
"""The application that test_reload rewrites (a copy in the state dir).

VERSION here and in reload_helper are rewritten together, so a
response that shows two different versions mixed code generations.

Endpoint: any path -> JSON {"app": VERSION, "helper": helper VERSION,
"interpreter": environ apwsgi.interpreter, "interp": interpreter id,
"pid"}.  The first request in an interpreter registers an atexit
handler that writes STATE/<mod_wsgi.interpreter>-ended-v<VERSION> when
the interpreter ends.
"""

import atexit
import json
import os

import reload_helper as helper
from apphelpers import interp_id

VERSION = 1
REGISTERED = []


def _ended(path):
    with open(path, 'w') as f:
        f.write('ended\n')


def application(environ, start_response):
    if not REGISTERED:
        REGISTERED.append(True)
        atexit.register(_ended, os.path.join(
            environ['APWSGI_TEST_STATE'], '%s-ended-v%d' % (
                environ.get('mod_wsgi.interpreter') or 'main', VERSION)))
    body = json.dumps({'app': VERSION, 'helper': helper.VERSION,
                       'interpreter': environ.get('apwsgi.interpreter'),
                       'interp': interp_id(),
                       'pid': os.getpid()}).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
