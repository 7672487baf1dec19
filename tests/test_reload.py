# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.reload on: a named interpreter is replaced by a fresh one when
its application's files change.

The application (a copy of apps/reload_app.py, the helper module it
imports and apps/apphelpers.py, in a directory of the server's state
dir) reports the VERSION of both; the tests rewrite them and watch which
version answers.  The module looks at modification times at most once a second
per interpreter, so every wait here polls with a deadline.

Each test starts its own single-process server, under APWSGI_MPM; the
load test uses the event MPM (concurrent requests in one process).
"""

import collections
import os
import pathlib
import re
import subprocess
import threading
import time

import pytest
import requests

import support

pytestmark = pytest.mark.core

NAME = 'reloadme'
LOAD_THREADS = 4
WRITE_SPACING = 1.1     # seconds between two rewrites under load
SWITCH_TIMEOUT = 10     # seconds a rewrite may take to be served
# Bound of the load test's request loop: past the longest the five waits
# for a version may take, so that the load never stops before they end
# (the test stops it as soon as version 5 is served, in about 7 s).
LOAD_SECONDS = 5 * (SWITCH_TIMEOUT + WRITE_SPACING) + 5


def code_text(module, version):
    """The source of apps/<module>.py with VERSION = version."""
    text = (support.APPS / (module + '.py')).read_text()
    text, n = re.subn(r'(?m)^VERSION = \d+$', 'VERSION = %d' % version, text)
    assert n == 1, module
    return text


def deploy(code, version, keep_helper_mtime=False):
    """Write both modules of `version` into `code`.

    With keep_helper_mtime the helper keeps its previous modification
    time, so only the application's rewrite (which comes second) can
    trigger the reload: a reload can then never see the new helper with
    the old application, and a response that mixes versions is the
    module's fault, not the writer's.
    """
    helper = code / 'reload_helper.py'
    before = helper.stat() if keep_helper_mtime else None
    support.write_world_readable(helper, code_text('reload_helper',
                                                   version))
    if before is not None:
        os.utime(helper, ns=(before.st_atime_ns, before.st_mtime_ns))
    support.write_world_readable(code / 'reload_app.py',
                                 code_text('reload_app', version))


def start(make_server, blocks, version=1, concurrent=False):
    """A server whose code dir (state/code) holds `version`; blocks is a
    callable taking the code dir, returning Location blocks."""
    def config(state):
        code = state / 'code'
        code.mkdir(mode=0o755)
        support.write_world_readable(
            code / 'apphelpers.py',
            (support.APPS / 'apphelpers.py').read_text())
        deploy(code, version)
        return '\n'.join(['SetEnv APWSGI_TEST_STATE "%s"' % state,
                          *blocks(code)]) + '\n'
    srv = make_server(config, mpm='event' if concurrent else support.MPM,
                      processes=1)
    return srv, srv.state_dir / 'code'


def loc(path, code, interpreter=NAME, app='reload_app', **keys):
    keys.setdefault('reload', 'on')
    extra = '\n'.join('SetEnv mod_wsgi.%s %s' % item
                      for item in keys.items())
    return support.location(path, app, interpreter=interpreter,
                            directory=code, extra=extra)


def get(client, srv, path, status=200):
    r = client.get(srv.url(path))
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    return r.json()


def wait_version(client, srv, path, version, timeout=SWITCH_TIMEOUT):
    """Request path until it answers `version` (both modules); return that
    answer.  Every answer on the way must be 200 and one generation."""
    def look():
        out = get(client, srv, path)
        assert out['app'] == out['helper'], out
        return out if out['app'] == version else None
    return support.wait_for(look, timeout, '%s to serve version %d'
                            % (path, version))


def ended(log, name=NAME):
    return log.tagged('APW00017', "ended interpreter '%s' (replaced, or "
                      "left without an application)" % name)


# ---- reload under load ----

def test_reload_under_concurrent_load(make_server):
    """Four clients request without pause while the code is rewritten
    four times: every answer is 200, from one code generation, and no
    client ever goes back to older code."""
    srv, code = start(make_server, lambda code: [loc('/r', code)],
                      concurrent=True)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        first = get(client, srv, '/r/')
    assert (first['app'], first['helper'], first['interpreter']) == \
        (1, 1, NAME)
    results = {k: [] for k in range(LOAD_THREADS)}     # client -> answers
    failures = []
    stop = threading.Event()
    deadline = time.monotonic() + LOAD_SECONDS

    def load(k):
        with support.Client() as client:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = client.get(srv.url('/r/'))
                except requests.RequestException as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append((r.status_code, r.text[:300]))
                else:
                    results[k].append(r.json())
    threads = [threading.Thread(target=load, args=(k,))
               for k in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    try:
        written = time.monotonic()
        for version in range(2, 6):
            def ready(version=version, written=written):
                assert failures == []
                served = any(out['app'] == version - 1
                             for answers in list(results.values())
                             for out in answers[-20:])
                return (served
                        and time.monotonic() - written >= WRITE_SPACING)
            support.wait_for(ready, SWITCH_TIMEOUT,
                             'version %d served under load' % (version - 1))
            deploy(code, version, keep_helper_mtime=True)
            written = time.monotonic()
        support.wait_for(
            lambda: failures or any(answers and answers[-1]['app'] == 5
                                    for answers in results.values()),
            SWITCH_TIMEOUT, 'version 5 served under load')
    finally:
        stop.set()
        for t in threads:
            t.join(support.TIMEOUT + 5)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    answers = [out for k in results for out in results[k]]
    assert all(results.values()) and len(answers) >= 40, len(answers)
    mixed = [out for out in answers if out['app'] != out['helper']]
    assert mixed == []
    for k, outs in results.items():
        versions = [out['app'] for out in outs]
        assert versions == sorted(versions), (k, versions)
    assert {out['app'] for out in answers} == {1, 2, 3, 4, 5}
    assert {out['pid'] for out in answers} == {first['pid']}
    assert {out['interpreter'] for out in answers} == {NAME}
    # One interpreter per version, a new one each time.
    interps = collections.defaultdict(set)
    for out in answers + [first]:
        interps[out['app']].add(out['interp'])
    assert all(len(ids) == 1 for ids in interps.values()), interps
    assert len(set.union(*interps.values())) == 5
    reloaded = log.tagged('APW00016')
    assert len(reloaded) == 4, reloaded
    assert all("interpreter '%s' reloaded for /r/: its code changed" % NAME
               in line and ':info]' in line for line in reloaded), reloaded
    # Each old interpreter is ended once its requests finished, and its
    # atexit handlers run.
    for version in range(1, 5):
        support.wait_file(srv.state_dir / ('%s-ended-v%d' % (NAME, version)),
                          timeout=10)
    support.wait_for(lambda: len(ended(log)) == 4, 10, '4 APW00017 lines')
    assert not (srv.state_dir / ('%s-ended-v5' % NAME)).exists()
    assert log.tagged('APW00015') == []


# ---- what is watched ----

def test_reload_when_an_imported_module_changes(make_server):
    """A module imported from mod_wsgi.directory is watched too."""
    srv, code = start(make_server, lambda code: [loc('/r', code)])
    log = support.LogWindow(srv, 0)
    helper = code / 'reload_helper.py'
    with support.Client() as client:
        first = get(client, srv, '/r/')
        support.write_world_readable(helper,
                                     code_text('reload_helper', 2))

        def look():
            out = get(client, srv, '/r/')
            return out if out['helper'] == 2 else None
        out = support.wait_for(look, SWITCH_TIMEOUT, 'the new helper')
    assert out['app'] == 1 and out['interp'] != first['interp']
    assert len(log.tagged('APW00016')) == 1


def test_reload_of_a_script_file(make_server):
    """mod_wsgi.application as a script path: that file is watched."""
    def blocks(code):
        script = code / 'app.wsgi'
        # The application alone, its "helper" a class in the same file.
        text = code_text('reload_app', 1).replace(
            'import reload_helper as helper\n', '')
        support.write_world_readable(script, text + (
            '\n\nclass helper:\n    VERSION = VERSION\n'))
        return [loc('/s', code, interpreter='script', app=script)]
    srv, code = start(make_server, blocks)
    script = code / 'app.wsgi'
    with support.Client() as client:
        assert get(client, srv, '/s/')['app'] == 1
        support.write_world_readable(script, script.read_text().replace(
            'VERSION = 1', 'VERSION = 2'))
        wait_version(client, srv, '/s/', 2)
    log = support.LogWindow(srv, 0)
    assert len(log.tagged('APW00016', "'script' reloaded")) == 1


def test_reload_ignores_stale_bytecode(make_server):
    """A rewrite within the same second and of the same size is exactly
    what a .pyc cannot tell from the old source (it records the source's
    mtime in whole seconds and its size); the reloaded interpreter must
    compile the new source anyway."""
    version, prefix = support.module_python()
    python = pathlib.Path(prefix) / 'bin' / ('python' + version)
    second = int(time.time()) - 10
    srv, code = start(make_server, lambda code: [loc('/r', code)])
    helper = code / 'reload_helper.py'
    os.utime(helper, ns=(second * 10**9 + 10**8,) * 2)
    subprocess.run([str(python), '-c', 'import py_compile, sys; '
                    'py_compile.compile(sys.argv[1], doraise=True)',
                    str(helper)], check=True, timeout=60)
    with support.Client() as client:
        first = get(client, srv, '/r/')
        assert first['helper'] == 1
        size = helper.stat().st_size
        support.write_world_readable(helper,
                                     code_text('reload_helper', 2))
        assert helper.stat().st_size == size
        os.utime(helper, ns=(second * 10**9 + 6 * 10**8,) * 2)
        # The trap is real: the module's Python, reading caches, gets the
        # old code.
        stale = subprocess.run(
            [str(python), '-B', '-c', 'import sys; sys.path.insert(0, '
             'sys.argv[1]); import reload_helper as h; '
             'print(h.VERSION)', str(code)],
            check=True, timeout=60, capture_output=True, text=True)
        assert stale.stdout.strip() == '1'

        def look():
            out = get(client, srv, '/r/')
            return out if out['interp'] != first['interp'] else None
        out = support.wait_for(look, SWITCH_TIMEOUT, 'the reload')
    assert (out['app'], out['helper']) == (1, 2)


def test_reload_pool_members(make_server):
    """Each member of a pool notices the change and is replaced."""
    srv, code = start(make_server, lambda code: [loc(
        '/p', code, interpreter='rpool', interpreters=2)])
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        assert get(client, srv, '/p/')['interpreter'] == 'rpool#0'
        deploy(code, 2, keep_helper_mtime=True)
        out = wait_version(client, srv, '/p/', 2)
    assert out['interpreter'] == 'rpool#0'
    reloaded = log.tagged('APW00016')
    assert len(reloaded) == 1 and "'rpool#0' reloaded" in reloaded[0]
    support.wait_for(lambda: ended(log, 'rpool#0'), 10, 'rpool#0 ended')


# ---- failures ----

@pytest.mark.expect_log('APW00201', 'APW00015')
def test_failed_reload_keeps_the_old_code(make_server):
    """New code that does not import: the old interpreter keeps serving
    (every answer 200, version 1), the traceback and APW00015 are
    logged, and the interpreter that failed is not kept.  Fixed code is
    then picked up."""
    srv, code = start(make_server, lambda code: [loc('/r', code)])
    log = support.LogWindow(srv, 0)
    app = code / 'reload_app.py'
    with support.Client() as client:
        first = get(client, srv, '/r/')
        support.write_world_readable(app, code_text('reload_app', 2)
                                     + '\ndef broken(:\n')

        def failed():
            out = get(client, srv, '/r/')
            assert (out['app'], out['interp']) == (1, first['interp']), out
            return log.tagged('APW00015')
        lines = support.wait_for(failed, SWITCH_TIMEOUT, 'APW00015')
        assert ':error]' in lines[0]
        assert "reloading interpreter '%s' for /r/ failed (see above): the " \
               "old code keeps serving" % NAME in lines[0], lines[0]
        assert log.tagged('APW00201', 'SyntaxError'), log.text()[-3000:]
        for _ in range(3):
            out = get(client, srv, '/r/')
            assert (out['app'], out['interp']) == (1, first['interp'])
        # The interpreter that could not load the new code is ended.
        support.wait_for(lambda: ended(log), 10,
                         'the failed interpreter to be ended')
        assert not (srv.state_dir / ('%s-ended-v1' % NAME)).exists()
        deploy(code, 3, keep_helper_mtime=True)
        out = wait_version(client, srv, '/r/', 3)
    assert out['interp'] != first['interp']
    support.wait_file(srv.state_dir / ('%s-ended-v1' % NAME), timeout=10)
    assert len(log.tagged('APW00016')) == 1


def test_reload_on_the_main_interpreter_is_ignored(make_server):
    """The main interpreter cannot be replaced: one APW00018 warning per
    process, and it keeps its code, while a named interpreter serving the
    same files reloads."""
    srv, code = start(make_server, lambda code: [
        loc('/m', code, interpreter=None), loc('/r', code)])
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        main = [get(client, srv, '/m/') for _ in range(3)]
        assert [(out['app'], out['interpreter']) for out in main] == \
            [(1, '')] * 3
        assert get(client, srv, '/r/')['app'] == 1
        deploy(code, 2, keep_helper_mtime=True)
        wait_version(client, srv, '/r/', 2)
        out = get(client, srv, '/m/')
    assert (out['app'], out['helper'], out['interp']) == \
        (1, 1, main[0]['interp'])
    lines = log.tagged('APW00018')
    assert len(lines) == 1, lines
    assert ':warn]' in lines[0]
    assert 'mod_wsgi.reload for /m/ is ignored: the main interpreter ' \
           'cannot be replaced; reload needs a named mod_wsgi.interpreter' \
        in lines[0], lines[0]
