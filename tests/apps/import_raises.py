# SPDX-License-Identifier: Apache-2.0
"""Fails at import time: ZeroDivisionError (no endpoints are ever served)."""

RESULT = 1 / 0


def application(environ, start_response):  # pragma: no cover
    start_response('200 OK', [])
    return [b'unreachable']
