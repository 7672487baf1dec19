# SPDX-License-Identifier: Apache-2.0
"""Helpers the test applications share (not an application).

The apps import it from their mod_wsgi.directory (tests/apps), each
interpreter its own copy: standard library only and no state of its
own, so it loads in named, pooled and own-GIL interpreters alike.
"""

import os
from urllib.parse import parse_qs


def query(environ):
    """The query string as {name: first value}."""
    return {k: v[0] for k, v in
            parse_qs(environ.get('QUERY_STRING', '')).items()}


def state_path(environ, name):
    """STATE/name, STATE being the server's state directory (SetEnv
    APWSGI_TEST_STATE), where apps leave what the tests read back."""
    return os.path.join(environ['APWSGI_TEST_STATE'], name)


def write_file(path, text):
    with open(path, 'w') as f:
        f.write(text)


def recorder(environ, prefix):
    """record(event): append a line to STATE/<prefix>-<token>, token from
    ?token=T ('none' without one); tests poll that file."""
    token = query(environ).get('token', 'none')
    path = state_path(environ, '%s-%s' % (prefix, token))

    def record(event):
        with open(path, 'a') as f:
            f.write(event + '\n')
    return record


def interp_ids():
    """(id of the current interpreter, id of the main one), or (None,
    None) where the interpreters module cannot tell."""
    try:
        try:
            import _interpreters as mod  # 3.13
        except ImportError:
            import _xxsubinterpreters as mod  # 3.11, 3.12
        cur, main = mod.get_current(), mod.get_main()
    except Exception:
        return None, None
    cur = cur[0] if isinstance(cur, tuple) else cur
    main = main[0] if isinstance(main, tuple) else main
    return int(cur), int(main)


def interp_id():
    """The id of the current interpreter, or None."""
    return interp_ids()[0]
