# SPDX-License-Identifier: Apache-2.0
"""Python `logging` from an application (tests/test_logging_levels.py).

The application configures no logging at all: records go to the root
logger as they would in any library.  Every endpoint takes ?token=T.

Endpoints (by PATH_INFO):
  /emit    root logger: error('lvl-error T'), warning('lvl-warning T'),
           info('lvl-info T'), debug('lvl-debug T'); returns b'emitted'
  /child   logging.getLogger('apwsgi.test.child').warning('child-warning
           T') (a named logger, propagating to the root); b'emitted'
  /exc     raises ValueError('exc-T') and logs it with
           logging.getLogger().exception('logged-exc T'); returns JSON
           {"lines": N}, N the number of lines of that record (message +
           traceback).  (The module-level logging.exception() would call
           logging.basicConfig(), adding a stderr handler to the root.)
Each then writes 'lvl-done T' to sys.stderr (its own log path, APW00503):
once that line is in the log, every record of the request is.
"""

import json
import logging
import sys
import traceback


def _nested(token):
    raise ValueError('exc-%s' % token)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    token = environ.get('QUERY_STRING', '').partition('token=')[2]
    body = b'emitted'
    if path == '/emit':
        root = logging.getLogger()
        root.error('lvl-error %s', token)
        root.warning('lvl-warning %s', token)
        root.info('lvl-info %s', token)
        root.debug('lvl-debug %s', token)
    elif path == '/child':
        logging.getLogger('apwsgi.test.child').warning('child-warning %s',
                                                       token)
    elif path == '/exc':
        try:
            _nested(token)
        except ValueError:
            lines = 1 + len(traceback.format_exc().rstrip('\n').splitlines())
            logging.getLogger().exception('logged-exc %s', token)
        body = json.dumps({'lines': lines}).encode()
    sys.stderr.write('lvl-done %s\n' % token)
    sys.stderr.flush()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
