# SPDX-License-Identifier: Apache-2.0
"""hello: the 12-byte hello world, as a one-item list.

Endpoint: GET /hello -> 200 text/plain "Hello world!".  No Content-Length
is set: a server can take it from the one-item list without chunking.
"""

BODY = b'Hello world!'
HEADERS = [('Content-Type', 'text/plain')]


def application(environ, start_response):
    start_response('200 OK', HEADERS)
    return [BODY]
