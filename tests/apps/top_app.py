# SPDX-License-Identifier: Apache-2.0
"""Answers that are not an apwsgi status document, for `apwsgi top`.

Endpoints (by PATH_INFO; `apwsgi top` adds `json` to the query string):
  /schema?s=S       application/json {"schema": S}
  /no-schema        application/json {"hello": "world"}
  /broken-json      application/json, a body cut in the middle
  /page             text/html, a page
  /post-only        405 Method Not Allowed, Allow: POST
"""

import json
from urllib.parse import parse_qs


def _json(start_response, body):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = parse_qs(environ.get('QUERY_STRING', ''))
    if path == '/schema':
        return _json(start_response, json.dumps(
            {'schema': query.get('s', [''])[0]}).encode())
    if path == '/no-schema':
        return _json(start_response, b'{"hello": "world"}')
    if path == '/broken-json':
        return _json(start_response, b'{"schema": "apwsgi-sta')
    if path == '/page':
        start_response('200 OK', [('Content-Type', 'text/html')])
        return [b'<!DOCTYPE html><title>a page</title>']
    if path == '/post-only':
        start_response('405 Method Not Allowed', [
            ('Allow', 'POST'), ('Content-Type', 'text/plain')])
        return [b'POST only']
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found']
