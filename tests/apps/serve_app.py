# SPDX-License-Identifier: Apache-2.0
"""An application for tests/test_serve.py, run by `apwsgi serve`.

Endpoints (by PATH_INFO):
  /info         JSON: interpreter, reload, virtualenv (the mod_wsgi.* keys
                in environ), script_name, path_info, pid, calls (requests
                this interpreter served), sys_path0
  /print?T      prints 'serve-app says T' (to the error log, so to the
                launcher's terminal)
  anything else 'serve-app' (text/plain)
The callable `other` answers 'serve-app other'.
"""

import json
import os
import sys

CALLS = [0]


def application(environ, start_response):
    CALLS[0] += 1
    path = environ.get('PATH_INFO', '')
    if path == '/info':
        body = json.dumps({
            'interpreter': environ.get('mod_wsgi.interpreter'),
            'reload': environ.get('mod_wsgi.reload'),
            'virtualenv': environ.get('mod_wsgi.virtualenv'),
            'script_name': environ.get('SCRIPT_NAME'),
            'path_info': path,
            'pid': os.getpid(),
            'calls': CALLS[0],
            'sys_path0': sys.path[0],
        }).encode()
        kind = 'application/json'
    elif path == '/print':
        print('serve-app says %s' % environ.get('QUERY_STRING', ''))
        body, kind = b'printed', 'text/plain'
    else:
        body, kind = b'serve-app', 'text/plain'
    start_response('200 OK', [('Content-Type', kind),
                              ('Content-Length', str(len(body)))])
    return [body]


def other(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'serve-app other']
