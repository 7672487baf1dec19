# SPDX-License-Identifier: Apache-2.0
"""Co-existence with Debian's mod_python (libapache2-mod-python) in one
Apache: apwsgi built against the same system Python (/usr/bin/python3.11)
uses the Python that mod_python initialised (APW00002) and its
interpreters (APW00601; test_modpython_mode.py goes further), both serve
from the same process, and apwsgi does not finalise that Python.

mod_python initialises Python in the Apache parent; Debian's build finds
its own package (/usr/lib/python3/dist-packages/mod_python) only when
Apache's PATH does not lead to another python3 first, so the server runs
with a PATH without pyenv's shims.

The module is built here with
`make PYTHON=/usr/bin/python3.11 BUILDDIR=build/py-system` (a no-op
when up to date), unless APWSGI_SYSTEM_MODULE names one already built.
Skipped, saying why, when mod_python or the system Python's headers are
missing.
"""

import re

import pytest

import support

APPS = support.APPS / 'coexist'


def coexist_config(state):
    loc = support.location
    mod_python = '''
<Location /mp>
    SetHandler mod_python
    PythonHandler mp_handler
    PythonPath "['%s'] + sys.path"
    PythonInterpreter main_interpreter
</Location>''' % APPS
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state, mod_python,
        loc('/wsgi', 'wsgi_side', directory=APPS),
        loc('/wsgi-named', 'wsgi_side', directory=APPS, interpreter='named'),
    ])


@pytest.fixture
def srv(make_server):
    """One Apache process with mod_python and apwsgi (system Python)."""
    return make_server(coexist_config, module=support.system_module(),
                       processes=1, modules=('python',),
                       env={'PATH': support.SYSTEM_PATH,
                            'VIRTUAL_ENV': None})


def get(client, srv, path):
    r = client.get(srv.url(path))
    assert r.status_code == 200, r.text
    return r.json()


def test_both_serve_from_one_process(srv):
    with support.Client() as client:
        mp = get(client, srv, '/mp/')
        wsgi = get(client, srv, '/wsgi/')
    assert mp['server'] == 'mod_python'
    assert wsgi['server'] == 'apwsgi'
    assert mp['pid'] == wsgi['pid']
    assert mp['version'] == wsgi['version']
    assert wsgi['version'].startswith('3.11.')
    assert wsgi['prefix'] == '/usr'
    assert wsgi['is_main'] is True


def test_apwsgi_uses_the_python_mod_python_initialised(srv):
    with support.Client() as client:
        pid = get(client, srv, '/wsgi/')['pid']
    log = support.LogWindow(srv, 0)
    lines = log.wait('[pid %d:' % pid, tag='APW00002')
    assert 'Python 3.11.' in lines[0], lines[0]
    assert log.tagged('APW00004') == [], 'apwsgi initialised Python itself'
    # mod_python initialised it in the parent, before any child.
    assert re.search(r'mod_python/\S+ Python/3\.11\.\d+ configured',
                     log.text())


def test_main_interpreter_is_shared(srv):
    """A value one module's code puts on sys is seen by the other's."""
    token = support.token()
    with support.Client() as client:
        get(client, srv, '/mp/set?value=' + token)
        wsgi = get(client, srv, '/wsgi/')
        assert (wsgi['shared'], wsgi['mod_python']) == (token, True)
        get(client, srv, '/wsgi/set?value=back-' + token)
        assert get(client, srv, '/mp/')['shared'] == 'back-' + token
        named = get(client, srv, '/wsgi-named/')
    assert (named['is_main'], named['shared']) == (False, None)


def test_python_not_finalised_by_apwsgi(srv):
    """At child exit apwsgi leaves Python as mod_python has it: the main
    interpreter is not finalised, and the named interpreter, which is
    mod_python's (test_modpython_mode.py), is not ended, so neither's
    atexit handlers run (mod_python does not finalise in the children).
    Alone, apwsgi does run them (test_python_home, test_interpreters)."""
    main_file = srv.state_dir / ('atexit-main-' + support.token())
    named_file = srv.state_dir / ('atexit-named-' + support.token())
    with support.Client() as client:
        get(client, srv, '/wsgi/atexit?file=%s' % main_file)
        named = get(client, srv, '/wsgi-named/atexit?file=%s' % named_file)
    assert named['mod_python'] is True
    srv.stop()
    assert not named_file.exists(), 'apwsgi ended mod_python\'s interpreter'
    assert not main_file.exists(), 'apwsgi finalised mod_python\'s Python'


def test_graceful_restart_with_both(srv):
    with support.Client() as client:
        old = get(client, srv, '/wsgi/')['pid']
    mark = srv.log_mark()
    srv.graceful()
    with support.Client() as client:
        mp = get(client, srv, '/mp/')
        wsgi = get(client, srv, '/wsgi/')
    assert mp['pid'] == wsgi['pid'] != old
    support.LogWindow(srv, mark).wait('[pid %d:' % wsgi['pid'],
                                      tag='APW00002')
