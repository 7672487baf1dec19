# SPDX-License-Identifier: Apache-2.0
"""post: read a request body with wsgi.input.read().

Endpoint: POST /post with a body -> 200 text/plain "received N bytes\\n"
when the body read has the length of CONTENT_LENGTH, else 400 (which the
load generator counts as an error).
"""


def application(environ, start_response):
    body = environ['wsgi.input'].read()
    expected = int(environ.get('CONTENT_LENGTH') or 0)
    status = '200 OK' if len(body) == expected else '400 Bad Request'
    out = b'received %d bytes\n' % len(body)
    start_response(status, [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(out)))])
    return [out]
