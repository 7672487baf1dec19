# SPDX-License-Identifier: Apache-2.0
"""The embedded Python is the one the module was built against, whatever
python3 comes first on Apache's PATH; atexit handlers run at child exit."""

import os
import pathlib
import time

import pytest

import support

pytestmark = pytest.mark.core


def pyinfo(server, path='/py/pyinfo'):
    with support.Client() as client:
        r = client.get(server.url(path))
    assert r.status_code == 200, r.text
    return r.json()


def state_config(state):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        loc('/py', 'state_app'),
        loc('/py-named', 'state_app', interpreter='exitnamed'),
    ])


def assert_build_python(info):
    version, prefix = support.module_python()
    assert info['version'].rsplit('.', 1)[0] == version
    assert info['base_prefix'] == prefix
    assert info['prefix'] == prefix
    stdlib = os.path.join(prefix, 'lib', 'python' + version)
    assert info['os_file'] == os.path.join(stdlib, 'os.py')
    assert info['encodings_file'].startswith(stdlib + '/')


def test_python_is_the_build_python(server):
    assert_build_python(pyinfo(server, '/interp/main/pyinfo'))


def test_other_python3_first_on_path(make_server):
    version, prefix = support.module_python()
    other = support.other_python(version, prefix)
    if other is None:
        pytest.skip('no second Python install on this machine')
    # www-data must be able to look into the directory (it's on PATH).
    bindir = pathlib.Path('/tmp') / ('apwsgi-fakebin-' + support.token())
    bindir.mkdir(mode=0o755)
    try:
        for name in ('python3', 'python', 'python' + version):
            (bindir / name).symlink_to(other)
        env = {'PATH': '%s:%s' % (bindir, os.environ.get('PATH', '')),
               'VIRTUAL_ENV': None}
        srv = make_server(state_config, env=env)
        info = pyinfo(srv)
        assert_build_python(info)
        srv.stop()   # before the fake bin goes: children may still start
    finally:
        support.remove_tree(bindir)


def test_python_initialised_in_child_not_parent(make_server):
    srv = make_server(state_config)
    served_by = pyinfo(srv)['pid']
    version, prefix = support.module_python()
    log = support.LogWindow(srv, 0)
    lines = log.wait('[pid %d:' % served_by, tag='APW00004')
    assert version in lines[0] and prefix in lines[0], lines[0]
    parent = [line for line in log.tagged('APW00004')
              if support.log_pid(line) == srv.pid]
    assert parent == [], 'Python initialised in the Apache parent'


# The tests below stop Apache while their client's keep-alive connection
# is still open.  Apache 2.4.71's event MPM can crash a child it stops at
# the very moment a client closes a connection (close_worker_sockets()
# reads the socket of a connection whose pool a worker has just
# recycled), before any module's clean-up has run, so no atexit handler
# would run: about 1 stop in 10 right after a close, none with the
# connection left open (60 of 60).


@pytest.mark.parametrize('mount', ['/py', '/py-named'])
def test_atexit_runs_at_stop(make_server, mount):
    srv = make_server(state_config)
    name = 'atexit-%s' % support.token()
    with support.Client() as client:
        r = client.get(srv.url(mount + '/atexit?file=' + name))
        assert r.status_code == 200
        srv.stop()
    text = support.wait_file(srv.state_dir / name, timeout=10)
    expected = 'exitnamed' if mount == '/py-named' else 'main'
    assert text == 'atexit ran in %s\n' % expected


def test_stop_with_daemon_threads_alive(make_server):
    """Children finalise cleanly (no fatal error, atexit still runs) while
    application threads are still running in both interpreters."""
    srv = make_server(state_config)
    names = {}
    with support.Client() as client:
        for mount in ('/py', '/py-named'):
            assert client.get(srv.url(mount + '/bgthread?s=30')) \
                .status_code == 200
            names[mount] = 'atexit-%s' % support.token()
            assert client.get(srv.url(
                mount + '/atexit?file=' + names[mount])).status_code == 200
        srv.stop()
    for name in names.values():
        support.wait_file(srv.state_dir / name, timeout=10)


def test_pythonhome_in_apache_environment_wins(make_server):
    """PYTHONHOME set for Apache (Debian: /etc/apache2/envvars) is used.

    The home is a directory of our own whose lib/pythonX.Y links to the
    build Python's standard library: sys.prefix shows which home was used.
    """
    version, prefix = support.module_python()
    home = pathlib.Path('/tmp') / ('apwsgi-home-' + support.token())
    try:
        (home / 'lib').mkdir(parents=True)
        home.chmod(0o755)
        (home / 'lib').chmod(0o755)
        (home / 'lib' / ('python' + version)).symlink_to(
            pathlib.Path(prefix) / 'lib' / ('python' + version))
        srv = make_server(state_config, env={'PYTHONHOME': str(home)})
        info = pyinfo(srv)
        assert info['prefix'] == str(home)
        assert info['os_file'] == str(home / 'lib' / ('python' + version) /
                                      'os.py')
        srv.stop()   # before the home goes: children may still start
    finally:
        support.remove_tree(home)


def test_stop_during_a_request_prefork(make_server):
    """Prefork ends a child from its SIGTERM handler while the app runs:
    the module must not finalise Python under the running request
    (APW00003) and the child must exit without crashing.  (Threaded MPMs
    let the request finish, or the parent kills the child: nothing of the
    module's to check there.)"""
    import threading
    srv = make_server(state_config, mpm='prefork', processes=1)
    marker = 'sleeping-' + support.token()
    outcome = []

    def client():
        try:
            with support.Client() as c:
                outcome.append(c.get(srv.url('/py/sleep?s=20&file=' + marker),
                                     timeout=30).status_code)
        except Exception as exc:   # the stop cuts the connection
            outcome.append(type(exc).__name__)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    support.wait_file(srv.state_dir / marker)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 10
    thread.join(15)
    assert outcome and outcome[0] != 200, outcome
    line, = support.LogWindow(srv, 0).wait(tag='APW00003')
    assert ':warn' in line
