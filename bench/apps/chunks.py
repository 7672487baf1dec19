# SPDX-License-Identifier: Apache-2.0
"""chunks: a 64 KiB body as a list of 16 chunks of 4 KiB.

Endpoint: GET /chunks -> 200 application/octet-stream, 65,536 bytes, with
Content-Length (as a framework that knows the size would send it).
"""

CHUNK = bytes(range(256)) * 16          # 4,096 bytes
CHUNKS = [CHUNK] * 16                   # 65,536 bytes in all
HEADERS = [('Content-Type', 'application/octet-stream'),
           ('Content-Length', str(len(CHUNK) * len(CHUNKS)))]


def application(environ, start_response):
    start_response('200 OK', HEADERS)
    return list(CHUNKS)
