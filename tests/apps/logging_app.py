"""Write to wsgi.errors, sys.stdout and sys.stderr.

Every endpoint takes ?token=T and writes lines that contain T, then
returns b'logged'.

Endpoints (by PATH_INFO):
  /errors      wsgi.errors: write('werr-T one\n'), writelines(['werr-T two\n',
               'werr-T three\n']), write('werr-T four-'), write('part\n'),
               flush()
  /print       print('pout-T hello')
  /stderr      sys.stderr.write('serr-T hello\n')
  /multi       wsgi.errors.write('werr-T a\nwerr-T b\n') (one call, 2 lines)
  /flush       wsgi.errors.write('werr-T unterminated'), flush(), then
               waits until STATE/flushed-T exists (at most FLUSH_WAIT
               seconds) before it answers, so that the test sees the line
               while the request still runs
"""

import os
import sys
import time

from apphelpers import state_path

FLUSH_WAIT = 20.0


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    tok = environ.get('QUERY_STRING', '').partition('token=')[2]
    errors = environ['wsgi.errors']
    if path == '/errors':
        errors.write('werr-%s one\n' % tok)
        errors.writelines(['werr-%s two\n' % tok, 'werr-%s three\n' % tok])
        errors.write('werr-%s four-' % tok)
        errors.write('part\n')
        errors.flush()
    elif path == '/print':
        print('pout-%s hello' % tok)
    elif path == '/stderr':
        sys.stderr.write('serr-%s hello\n' % tok)
    elif path == '/multi':
        errors.write('werr-%s a\nwerr-%s b\n' % (tok, tok))
    elif path == '/flush':
        errors.write('werr-%s unterminated' % tok)
        errors.flush()
        marker = state_path(environ, 'flushed-' + tok)
        deadline = time.monotonic() + FLUSH_WAIT
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'logged']
