# SPDX-License-Identifier: Apache-2.0
"""The mod_python side of test_modpython_mode.py.

handler (PythonHandler mp_side), any path: JSON {"server": "mod_python",
"pid", "interp" (req.interpreter), "values" (shared_state.values),
"first" (shared_state.first)}; a path ending in /set?key=K&value=V sets
values[K] = V first; one ending in /busy creates STATE/busy (STATE from
SetEnv APWSGI_TEST_STATE) and then runs Python without end.

fixup (PythonFixupHandler mp_side::fixup): records the URI it saw in
values['fixup'] before the response handler runs.

upper (PythonOutputFilter mp_side::upper UPPER): upper-cases the body and
records values['filtered'] = the number of bytes it passed on.
"""

import json
import os
from urllib.parse import parse_qs

import shared_state
from mod_python import apache


def handler(req):
    shared_state.used_by('mod_python')
    query = {k: v[0] for k, v in parse_qs(req.args or '').items()}
    if req.uri.endswith('/set'):
        shared_state.values[query['key']] = query['value']
    if req.uri.endswith('/busy'):
        state = req.subprocess_env['APWSGI_TEST_STATE']
        with open(os.path.join(state, 'busy'), 'w') as f:
            f.write('running\n')
        while True:
            pass
    body = json.dumps({'server': 'mod_python', 'pid': os.getpid(),
                       'interp': req.interpreter,
                       'values': shared_state.values,
                       'first': shared_state.first})
    req.content_type = 'application/json'
    req.write(body)
    return apache.OK


def fixup(req):
    shared_state.used_by('mod_python')
    shared_state.values['fixup'] = req.uri
    return apache.OK


def upper(filter):
    data = filter.read()
    while data:
        shared_state.values['filtered'] = (
            int(shared_state.values.get('filtered', 0)) + len(data))
        filter.write(data.upper())
        data = filter.read()
    if data is None:
        filter.close()
