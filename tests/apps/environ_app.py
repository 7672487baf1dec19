# SPDX-License-Identifier: Apache-2.0
"""Echo the WSGI environ as JSON.

Endpoints (any path, mounted at several Locations):
  GET|POST <any>            200 application/json:
      {"str":   {key: value} for every str value,
       "types": {key: type name} for every key,
       "environ_type": type name of environ itself,
       "wsgi":  facts about the wsgi.* values (version, flags, attributes),
       "pid":   os.getpid()}
  <any>?mutate=1            the same, then mutates environ (adds APWSGI_LEAK,
                            changes wsgi.url_scheme and wsgi.version) to show
                            that the next request gets a fresh environ.
"""

import json
import os


def _wsgi_facts(environ):
    version = environ.get('wsgi.version')
    inp = environ.get('wsgi.input')
    err = environ.get('wsgi.errors')
    return {
        'version': list(version) if isinstance(version, tuple) else None,
        'version_type': type(version).__name__,
        'url_scheme': environ.get('wsgi.url_scheme'),
        'multithread': environ.get('wsgi.multithread'),
        'multiprocess': environ.get('wsgi.multiprocess'),
        'run_once': environ.get('wsgi.run_once'),
        'input_terminated': environ.get('wsgi.input_terminated'),
        'file_wrapper_callable': callable(environ.get('wsgi.file_wrapper')),
        'input_attrs': sorted(a for a in ('read', 'readline', 'readlines',
                                          '__iter__') if hasattr(inp, a)),
        'errors_attrs': sorted(a for a in ('write', 'writelines', 'flush')
                               if hasattr(err, a)),
    }


def application(environ, start_response):
    out = {
        'str': {k: v for k, v in environ.items() if type(v) is str},
        'types': {k: type(v).__name__ for k, v in environ.items()},
        'environ_type': type(environ).__name__,
        'wsgi': _wsgi_facts(environ),
        'pid': os.getpid(),
    }
    body = json.dumps(out, sort_keys=True).encode('ascii')
    if 'mutate=1' in environ.get('QUERY_STRING', ''):
        environ['APWSGI_LEAK'] = 'leaked'
        environ['wsgi.url_scheme'] = 'gopher'
        environ['wsgi.version'] = (9, 9)
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
