# SPDX-License-Identifier: Apache-2.0
"""Module 'dupmod' from directory dup_a. Endpoint: any path -> b'dup_a'."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'dup_a']
