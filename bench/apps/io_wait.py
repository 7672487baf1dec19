# SPDX-License-Identifier: Apache-2.0
"""io: an I/O-bound request: it waits 20 ms, then answers.

Endpoint: GET /io -> 200 text/plain "waited 20 ms\\n", with
Content-Length.  The wait is time.sleep, which releases the GIL as a
blocking socket read or database call does; a server that overlaps the
waits of many requests serves about (concurrent requests) / 20 ms.
"""

import time

WAIT = 0.020    # seconds
BODY = b'waited 20 ms\n'
HEADERS = [('Content-Type', 'text/plain'),
           ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    time.sleep(WAIT)
    start_response('200 OK', HEADERS)
    return [BODY]
