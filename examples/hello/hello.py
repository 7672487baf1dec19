# SPDX-License-Identifier: Apache-2.0
"""The smallest WSGI application: a plain-text page about the request.

Endpoints (mounted at / by conf/examples.conf, main interpreter):
    GET /anything   text/plain: the path split, the interpreter, the Python
"""

import os
import sys


def application(environ, start_response):
    lines = [
        'Hello from apwsgi.',
        '',
        'SCRIPT_NAME   %r' % environ.get('SCRIPT_NAME'),
        'PATH_INFO     %r' % environ.get('PATH_INFO'),
        'QUERY_STRING  %r' % environ.get('QUERY_STRING'),
        'interpreter   %s' % (environ.get('mod_wsgi.interpreter') or
                              '(main)'),
        'process       %d' % os.getpid(),
        'Python        %s' % sys.version.split()[0],
        'multithread   %s' % environ.get('wsgi.multithread'),
        'multiprocess  %s' % environ.get('wsgi.multiprocess'),
    ]
    body = ('\n'.join(lines) + '\n').encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]
