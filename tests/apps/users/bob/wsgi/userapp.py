# SPDX-License-Identifier: Apache-2.0
"""Per-user application of bob (selected by a mod_rewrite rule).

Endpoints: any path -> JSON {user, file, interp, is_main, counter, pid,
name (mod_wsgi.interpreter), script_name, path_info}.
"""

import json
import os

USER = 'bob'
COUNTER = [0]


def application(environ, start_response):
    COUNTER[0] += 1
    try:
        try:
            import _interpreters as mod
        except ImportError:
            import _xxsubinterpreters as mod
        cur, main = mod.get_current(), mod.get_main()
        cur = int(cur[0] if isinstance(cur, tuple) else cur)
        main = int(main[0] if isinstance(main, tuple) else main)
    except Exception:
        cur = main = None
    body = json.dumps({
        'user': USER, 'file': __file__, 'interp': cur,
        'is_main': None if cur is None else cur == main,
        'counter': COUNTER[0], 'pid': os.getpid(),
        'name': environ.get('mod_wsgi.interpreter'),
        'script_name': environ.get('SCRIPT_NAME'),
        'path_info': environ.get('PATH_INFO')}).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
