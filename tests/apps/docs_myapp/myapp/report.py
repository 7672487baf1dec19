# SPDX-License-Identifier: Apache-2.0
"""What the documentation's examples check: one JSON report per request.

  {"source": "script" | "package", "version": VERSION of myapp.wsgi,
   "script_name", "path_info", "interpreter" (mod_wsgi.interpreter),
   "authorization" (HTTP_AUTHORIZATION or null),
   "remote_addr", "url_scheme" (wsgi.url_scheme), "https" (HTTPS),
   "forwarded_for", "forwarded_proto" (HTTP_X_FORWARDED_*, or null),
   "dependency": __file__ of myapp_dependency (a module only in the
   venv's site-packages) or null, "pid"}
"""

import json
import os


def _dependency():
    try:
        import myapp_dependency
    except ImportError:
        return None
    return myapp_dependency.__file__


def report(environ, start_response, source, version=None):
    body = json.dumps({
        'source': source,
        'version': version,
        'script_name': environ.get('SCRIPT_NAME'),
        'path_info': environ.get('PATH_INFO'),
        'interpreter': environ.get('mod_wsgi.interpreter'),
        'authorization': environ.get('HTTP_AUTHORIZATION'),
        'remote_addr': environ.get('REMOTE_ADDR'),
        'url_scheme': environ['wsgi.url_scheme'],
        'https': environ.get('HTTPS'),
        'forwarded_for': environ.get('HTTP_X_FORWARDED_FOR'),
        'forwarded_proto': environ.get('HTTP_X_FORWARDED_PROTO'),
        'dependency': _dependency(),
        'pid': os.getpid(),
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
