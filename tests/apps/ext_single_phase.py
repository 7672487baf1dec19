# SPDX-License-Identifier: Apache-2.0
"""Imports single_phase_ext, a single-phase-init C extension the test
builds next to a copy of this file (so it fails to import in an
interpreter with its own GIL).

Endpoint: any path -> JSON {"interpreter": environ apwsgi.interpreter,
"hello": single_phase_ext.hello()}
"""

import json

import single_phase_ext


def application(environ, start_response):
    body = json.dumps({'interpreter': environ.get('apwsgi.interpreter'),
                       'hello': single_phase_ext.hello()}).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
