# SPDX-License-Identifier: Apache-2.0
"""A .py script file. Endpoints: any path -> b'plain py script'."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'plain py script']
