# SPDX-License-Identifier: Apache-2.0
"""pydantic imported when the application module is: a refusal is the
application's failed import.

Endpoint: any path -> JSON {"version": pydantic.VERSION}.
"""

import json

import pydantic


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps({'version': pydantic.VERSION}).encode()]
