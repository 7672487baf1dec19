# SPDX-License-Identifier: Apache-2.0
"""The backend application of examples/scale-out: says which backend
answered (each backend's Apache sets APWSGI_BACKEND with SetEnv).

Endpoints (any path):
    GET  text/plain 'backend=NAME pid=PID path=PATH', header X-Backend: NAME
"""

import os


def application(environ, start_response):
    name = environ.get('APWSGI_BACKEND', 'unknown')
    body = ('backend=%s pid=%d path=%s\n' % (
        name, os.getpid(), environ.get('PATH_INFO', ''))).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body))),
                              ('X-Backend', name)])
    return [body]
