# SPDX-License-Identifier: Apache-2.0
"""stream: a streaming response of 100 small chunks from a generator.

Endpoint: GET /stream -> 200 text/plain, 100 lines of 64 bytes (6,400
bytes), with no Content-Length, so HTTP/1.1 servers send it chunked.
"""

LINE = b'%s\n' % (b'0123456789abcdef' * 4)[:63]   # 64 bytes
COUNT = 100


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return (LINE for _ in range(COUNT))
