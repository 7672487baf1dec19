# SPDX-License-Identifier: Apache-2.0
"""A mod_python handler for test_coexist.py (PythonHandler mp_handler).

Answers JSON: {"server": "mod_python", "pid", "version", "executable",
"interp" (req.interpreter), "shared" (sys.apwsgi_coexist, set by
/set?value=V before answering)}.
"""

import json
import os
import sys

from mod_python import apache


def handler(req):
    args = dict(part.split('=', 1) for part in (req.args or '').split('&')
                if '=' in part)
    if req.uri.endswith('/set'):
        sys.apwsgi_coexist = args['value']
    body = json.dumps({'server': 'mod_python', 'pid': os.getpid(),
                       'version': sys.version.split()[0],
                       'executable': sys.executable,
                       'interp': req.interpreter,
                       'shared': getattr(sys, 'apwsgi_coexist', None)})
    req.content_type = 'application/json'
    req.write(body)
    return apache.OK
