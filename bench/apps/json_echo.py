# SPDX-License-Identifier: Apache-2.0
"""json: a 200-byte JSON echo of a few environ keys.

Endpoint: GET /json?q=... -> 200 application/json, exactly 200 bytes: an
object with the keys below and a "pad" member that fills it to 200 bytes
(whatever the server's host, port and address strings are).
"""

import json

KEYS = ('REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING',
        'SERVER_PROTOCOL', 'HTTP_HOST', 'wsgi.url_scheme')
SIZE = 200


def application(environ, start_response):
    data = {key: environ.get(key, '') for key in KEYS}
    text = json.dumps(data, separators=(',', ':'))
    pad = SIZE - len(text) - len(',"pad":""')
    body = (text[:-1] + ',"pad":"' + 'x' * max(pad, 0) + '"}').encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
