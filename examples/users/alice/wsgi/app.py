# SPDX-License-Identifier: Apache-2.0
"""alice's application, one of the per-user examples.

conf/examples.conf maps /~alice/ here with mod_rewrite: interpreter
user-alice, directory examples/users/alice/wsgi, SCRIPT_NAME /~alice.

Endpoints:
    GET /~alice/anything   text/plain: whose app, interpreter, path split
"""

import os

OWNER = 'alice'
_visits = 0


def application(environ, start_response):
    global _visits
    _visits += 1  # per interpreter and process; a rough count is enough
    body = ('Hello from %s\'s app.\n'
            'interpreter  %s\n'
            'SCRIPT_NAME  %r\n'
            'PATH_INFO    %r\n'
            'process      %d, visit %d\n'
            % (OWNER, environ.get('mod_wsgi.interpreter') or '(main)',
               environ.get('SCRIPT_NAME'), environ.get('PATH_INFO'),
               os.getpid(), _visits)).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]
