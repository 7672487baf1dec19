# SPDX-License-Identifier: Apache-2.0
"""Module 'dupmod' from directory dup_b. Endpoint: any path -> b'dup_b'."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'dup_b']
