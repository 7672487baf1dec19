# SPDX-License-Identifier: Apache-2.0
"""Holds a request until the test lets it go (test_scale_out.py mounts
it at /hold on each backend, beside the example's application).

Endpoint: /hold?token=T
    appends the backend's name (SetEnv APWSGI_BACKEND) as a line to
    STATE/held-T, then waits until STATE/release-T exists (at most
    HOLD_LIMIT seconds) and answers 200 'released by NAME' with header
    X-Backend: NAME, or 504 'never released by NAME'.
"""

import os
import time

from apphelpers import query, state_path

HOLD_LIMIT = 20.0


def application(environ, start_response):
    name = environ.get('APWSGI_BACKEND', 'unknown')
    token = query(environ)['token']
    with open(state_path(environ, 'held-' + token), 'a') as f:
        f.write(name + '\n')
    release = state_path(environ, 'release-' + token)
    deadline = time.monotonic() + HOLD_LIMIT
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    if os.path.exists(release):
        status, body = '200 OK', 'released by %s' % name
    else:
        status, body = '504 Gateway Timeout', 'never released by %s' % name
    start_response(status, [('Content-Type', 'text/plain'),
                            ('X-Backend', name)])
    return [body.encode()]
