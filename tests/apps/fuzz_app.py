# SPDX-License-Identifier: Apache-2.0
"""Replay a WSGI response described in the request body (test_fuzz.py).

Endpoint (any path): POST a JSON object
  {"status": V, "headers": V, "body": [V, ...],
   "mode": "list" | "tuple" | "generator" | "write",
   "raise_at": null | i}
where each V is a tagged value: ["str", s], ["bytes", latin-1 s],
["bytearray", latin-1 s], ["int", n], ["none"], ["list", [V...]],
["tuple", [V...]].  The application calls start_response(status,
headers), then answers with the body items: as a list, a tuple, from a
generator, or through write() (returning []).  With raise_at, the
generator (or the write loop) raises FuzzError before item raise_at
(len(body): after the last one); list and tuple ignore it.
"""

import json


class FuzzError(Exception):
    pass


def decode(value):
    tag = value[0]
    if tag == 'str':
        return value[1]
    if tag == 'bytes':
        return value[1].encode('latin-1')
    if tag == 'bytearray':
        return bytearray(value[1].encode('latin-1'))
    if tag == 'int':
        return value[1]
    if tag == 'none':
        return None
    if tag == 'list':
        return [decode(v) for v in value[1]]
    if tag == 'tuple':
        return tuple(decode(v) for v in value[1])
    raise ValueError('unknown tag %r' % tag)


def _generator(body, raise_at):
    for i, item in enumerate(body):
        if i == raise_at:
            raise FuzzError('apwsgi-test-fuzz at %d' % i)
        yield item
    if raise_at is not None and raise_at >= len(body):
        raise FuzzError('apwsgi-test-fuzz at the end')


def application(environ, start_response):
    case = json.loads(environ['wsgi.input'].read())
    status = decode(case['status'])
    headers = decode(case['headers'])
    body = [decode(v) for v in case['body']]
    raise_at = case['raise_at']
    if case['mode'] == 'write':
        write = start_response(status, headers)
        for item in _generator(body, raise_at):
            write(item)
        return []
    start_response(status, headers)
    if case['mode'] == 'list':
        return body
    if case['mode'] == 'tuple':
        return tuple(body)
    return _generator(body, raise_at)
