# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.gil own: sub-interpreters with a GIL of their own (PEP 684).

The assertions depend on the Python the module embeds: on 3.12 and newer
an own-GIL interpreter is isolated, runs in parallel with another one,
and refuses single-phase extensions; on 3.11 the key falls back to the
shared GIL with one APW00014 warning per interpreter.

Each test starts its own single-process server, under APWSGI_MPM; the
ones that need concurrent requests in one process use the event MPM.
"""

import concurrent.futures
import pathlib
import shutil
import subprocess

import pytest

import support

core = pytest.mark.core      # every test but the soak one

SPIN_ROUNDS = 20
OWN_TIMEOUT = 8.0       # seconds a ping-pong side may wait with own GILs
SHARED_TIMEOUT = 1.5    # ... and with a shared GIL (it cannot finish)


module_python = support.module_python_version
own_gil_supported = support.own_gil_supported


def loc(path, app, interpreter=None, gil=None, directory=support.APPS,
        extra=''):
    lines = [extra] if extra else []
    if gil is not None:
        lines.append('SetEnv mod_wsgi.gil %s' % gil)
    return support.location(path, app, interpreter=interpreter,
                            directory=directory, extra='\n'.join(lines))


start = support.start_interp_server
get = support.get_json


def created_lines(log, name):
    return log.tagged('APW00006', "created interpreter '%s' " % name)


def assert_created(log, name, uri):
    """name was created once, with the GIL mode the module's Python gives
    to mod_wsgi.gil own, and (3.11) with one APW00014 warning."""
    mode = 'own' if own_gil_supported() else 'shared'
    lines = created_lines(log, name)
    assert len(lines) == 1, lines
    assert "created interpreter '%s' (%s GIL) for %s" % (name, mode, uri) \
        in lines[0], lines[0]
    assert ':info]' in lines[0], lines[0]
    warnings = log.tagged('APW00014', "'%s'" % name)
    if own_gil_supported():
        assert warnings == []
    else:
        assert len(warnings) == 1, warnings
        assert ':warn]' in warnings[0], warnings[0]
        assert 'mod_wsgi.gil own needs Python 3.12 or newer' in warnings[0]


# ---- creation, fallback, isolation ----

@core
def test_own_gil_interpreter_created(make_server):
    srv = start(make_server,
                loc('/own', 'interp_app', interpreter='own1', gil='own'))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        first = [get(client, srv, '/own/whoami') for _ in range(3)]
    assert [r['interpreter'] for r in first] == ['own1'] * 3
    assert [r['counter'] for r in first] == [1, 2, 3]
    assert len({r['interp'] for r in first}) == 1
    assert_created(log, 'own1', '/own/whoami')
    assert log.tagged('APW00013') == []


@core
def test_own_gil_interpreters_isolated(make_server):
    srv = start(make_server,
                loc('/a', 'interp_app', interpreter='iso-a', gil='own'),
                loc('/b', 'interp_app', interpreter='iso-b', gil='own'),
                loc('/s', 'interp_app', interpreter='iso-s'),
                loc('/m', 'interp_app'))
    value = support.token()
    with support.Client() as client:
        first = get(client, srv, '/a/set?value=' + value)
        a, b, s, m = (get(client, srv, p + '/get')
                      for p in ('/a', '/b', '/s', '/m'))
    assert len({r['pid'] for r in (first, a, b, s, m)}) == 1
    assert [r['interpreter'] for r in (a, b, s, m)] == \
        ['iso-a', 'iso-b', 'iso-s', '']
    assert (a['value'], a['sys_value']) == (value, value)
    for other in (b, s, m):
        assert (other['value'], other['sys_value']) == (None, None), other
    assert len({r['interp'] for r in (a, b, s, m)}) == 4
    assert len({r['modules_id'] for r in (a, b, s, m)}) == 4
    log = support.LogWindow(srv, 0)
    assert len(created_lines(log, 'iso-s')) == 1
    assert '(shared GIL)' in created_lines(log, 'iso-s')[0]


@core
def test_main_interpreter_keeps_process_gil(make_server):
    """The main interpreter is never re-created: gil own there is moot."""
    srv = start(make_server, loc('/m', 'interp_app', gil='own'))
    with support.Client() as client:
        out = [get(client, srv, '/m/whoami') for _ in range(2)]
    assert [r['interpreter'] for r in out] == ['', '']
    assert [r['counter'] for r in out] == [1, 2]
    log = support.LogWindow(srv, 0)
    for tag in ('APW00006', 'APW00013', 'APW00014'):
        assert log.tagged(tag) == [], tag


@core
@pytest.mark.parametrize('first,later', [('shared', 'own'),
                                         ('own', 'shared')])
def test_existing_name_keeps_its_gil_mode(make_server, first, later):
    srv = start(make_server,
                loc('/first', 'interp_app', interpreter='mixed', gil=first),
                loc('/later', 'interp_app', interpreter='mixed', gil=later))
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        a = get(client, srv, '/first/whoami')
        b = get(client, srv, '/later/whoami')
        c = get(client, srv, '/later/whoami')
    assert [r['interpreter'] for r in (a, b, c)] == ['mixed'] * 3
    assert len({r['interp'] for r in (a, b, c)}) == 1
    assert [r['counter'] for r in (a, b, c)] == [1, 2, 3]
    created = created_lines(log, 'mixed')
    assert len(created) == 1, created
    mode = 'own' if first == 'own' and own_gil_supported() else 'shared'
    assert '(%s GIL)' % mode in created[0]
    notes = log.tagged('APW00013')
    if mode == later:
        # 3.11, own then shared: the request gets what it asked for.
        assert notes == [], notes
    else:
        assert len(notes) == 1, notes
        assert ':info]' in notes[0]
        assert "interpreter 'mixed' keeps the %s GIL it was created with; " \
               "/later/whoami asked for mod_wsgi.gil %s" % (mode, later) \
            in notes[0], notes[0]


# ---- parallelism ----

def pingpong(srv, pairs, timeout):
    """Run the two sides of a ping-pong at once: pairs is [(path, side)],
    -> their JSON answers."""
    shared = srv.state_dir / ('pingpong-' + support.token())
    shared.write_bytes(b'\0' * 4096)
    shared.chmod(0o666)

    def one(pair):
        path, side = pair
        with support.Client() as client:
            return get(client, srv, '%s/pingpong?file=%s&side=%d&rounds=%d'
                       '&timeout=%s' % (path, shared.name, side,
                                        SPIN_ROUNDS, timeout))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, pairs))


@core
def test_own_gil_interpreters_run_in_parallel(make_server):
    """Two own-GIL interpreters play ping-pong in GIL-holding loops: only
    possible when both run at the same time (not a timing test: the only
    deadline is a bound).  On 3.12+ two shared-GIL interpreters are the
    control that cannot; on 3.11 the own-GIL request itself is."""
    srv = start(make_server,
                loc('/o0', 'interp_spin', interpreter='spin-o0', gil='own'),
                loc('/o1', 'interp_spin', interpreter='spin-o1', gil='own'),
                loc('/s0', 'interp_spin', interpreter='spin-s0'),
                loc('/s1', 'interp_spin', interpreter='spin-s1'),
                concurrent=True)
    with support.Client() as client:     # create them, import the app
        for path in ('/o0', '/o1', '/s0', '/s1'):
            get(client, srv, path + '/')
    if own_gil_supported():
        own = pingpong(srv, [('/o0', 0), ('/o1', 1)], OWN_TIMEOUT)
        assert [r['interpreter'] for r in own] == ['spin-o0', 'spin-o1']
        assert [r['done'] for r in own] == [True, True], own
        shared = pingpong(srv, [('/s0', 0), ('/s1', 1)], SHARED_TIMEOUT)
    else:
        shared = pingpong(srv, [('/o0', 0), ('/o1', 1)], SHARED_TIMEOUT)
    assert [r['done'] for r in shared] == [False, False], shared
    assert max(r['rounds'] for r in shared) <= 1, shared


@pytest.mark.soak
def test_own_gil_interpreters_each_get_a_core(make_server):
    """Timing check (soak: needs two idle cores): two GIL-holding loops in
    two own-GIL interpreters each get close to a whole core."""
    if not own_gil_supported():
        pytest.skip('own GIL needs Python 3.12+')
    srv = start(make_server,
                loc('/o0', 'interp_spin', interpreter='burn-0', gil='own'),
                loc('/o1', 'interp_spin', interpreter='burn-1', gil='own'),
                concurrent=True)

    def one(path):
        with support.Client() as client:
            return get(client, srv, path + '/burn?s=2')
    with support.Client() as client:
        get(client, srv, '/o0/')
        get(client, srv, '/o1/')
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        out = list(pool.map(one, ['/o0', '/o1']))
    assert all(r['cpu_ratio'] > 0.75 for r in out), out


# ---- extensions without per-interpreter GIL support ----

EXTENSION_C = r'''
#include <Python.h>

static PyObject *
hello(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromString("single-phase");
}

static PyMethodDef methods[] = {
    {"hello", hello, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef def = {
    PyModuleDef_HEAD_INIT, "single_phase_ext", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit_single_phase_ext(void)
{
    return PyModule_Create(&def);
}
'''


def build_single_phase_extension(directory):
    """Compile single_phase_ext.so (single-phase init, so no declared
    sub-interpreter support) against the module's Python headers into
    directory, next to a copy of ext_single_phase.py."""
    version, prefix = support.module_python()
    include = pathlib.Path(prefix) / 'include' / ('python' + version)
    assert (include / 'Python.h').is_file(), include
    directory.mkdir(mode=0o755)
    source = directory / 'single_phase_ext.c'
    source.write_text(EXTENSION_C)
    subprocess.run(['gcc', '-shared', '-fPIC', '-O0', '-I', str(include),
                    '-o', str(directory / 'single_phase_ext.so'),
                    str(source)], check=True, timeout=60)
    shutil.copy(support.APPS / 'ext_single_phase.py', directory)
    for path in directory.iterdir():
        path.chmod(0o755 if path.suffix == '.so' else 0o644)


@core
@pytest.mark.expect_log('APW00209')
def test_single_phase_extension_refused_in_own_gil(make_server):
    def config(state):
        ext = state / 'ext'
        build_single_phase_extension(ext)
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            loc('/own', 'ext_single_phase', interpreter='ext-own', gil='own',
                directory=ext),
            loc('/shared', 'ext_single_phase', interpreter='ext-shared',
                directory=ext)]) + '\n'
    srv = make_server(config, mpm=support.MPM, processes=1)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        # The extension itself works (not in main as well: CPython 3.12
        # before 3.12.7 crashes at exit when a single-phase extension was
        # loaded in a sub-interpreter and in main, gh-116510).
        out = get(client, srv, '/shared/x')
        assert out == {'interpreter': 'ext-shared', 'hello': 'single-phase'}
        if not own_gil_supported():
            out = get(client, srv, '/own/x')
            assert out == {'interpreter': 'ext-own', 'hello': 'single-phase'}
            assert_created(log, 'ext-own', '/own/x')
            assert log.tagged('APW00209') == []
            return
        get(client, srv, '/own/x', status=500)
    # One line that names the module and what to do, no traceback.
    assert log.tagged('APW00201') == []
    hints = log.tagged('APW00209')
    assert len(hints) == 1, hints
    assert ':error]' in hints[0]
    assert ("extension module 'single_phase_ext' cannot be loaded in "
            "interpreter ext-own (module single_phase_ext does not support "
            "loading in subinterpreters): run it in the main interpreter"
            in hints[0]), hints[0]
    assert "loads with 'SetEnv mod_wsgi.gil shared'" in hints[0]
    # An interpreter left without an application is not kept.
    log.wait("ended interpreter 'ext-own' (replaced, or left without an "
             "application)", tag='APW00017', timeout=10)


@core
@pytest.mark.expect_log('APW00107')
def test_bad_gil_value(make_server):
    srv = start(make_server, loc('/bad', 'interp_app', interpreter='g',
                                 gil='maybe'))
    with support.Client() as client:
        get(client, srv, '/bad/', status=500)
    lines = support.LogWindow(srv, 0).tagged('APW00107')
    assert len(lines) == 1, lines
    assert "mod_wsgi.gil 'maybe' for /bad/ must be 'own' or 'shared'" \
        in lines[0]
    assert created_lines(support.LogWindow(srv, 0), 'g') == []
