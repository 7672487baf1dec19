# SPDX-License-Identifier: Apache-2.0
"""Virtual environments: `SetEnv mod_wsgi.virtualenv /path/to/venv`, and
`apwsgi serve` run from a venv.

The module's side:
- the venv's site-packages is added to each interpreter the module
  creates (site.addsitedir: its .pth files are processed), exactly once
  however many requests follow, in the main and in a named interpreter;
- a venv of another Python X.Y than the embedded one gives an error-level
  log line naming the venv and both versions, and its packages are not
  used.
The launcher's side: `apwsgi serve` from a venv passes the key (and then
the venv's packages are importable), and refuses a venv whose Python
differs from the module's.
"""

import json
import shutil
import subprocess

import pytest

import support
from apwsgi.apache import find_free_port
from ecosystem import (
    make_venv,
    module_python_exe,
    python_of_other_version,
    venv_site_packages,
)
from harness import Launcher
from support import scratch_dir, tooling_env

pytestmark = pytest.mark.core

MARKER = "VALUE = 'from-venv'\n"


def populate(venv, scratch):
    """A module only in site-packages, and one in a directory named by a
    .pth file there (which site.addsitedir, not a bare sys.path entry,
    processes)."""
    site = venv_site_packages(venv)
    (site / 'apwsgi_venv_marker.py').write_text(MARKER)
    extra = scratch / 'pth-extra'
    extra.mkdir()
    (extra / 'apwsgi_venv_pth_marker.py').write_text('VALUE = 1\n')
    (site / 'apwsgi_venv_extra.pth').write_text('%s\n' % extra)
    for path in (site / 'apwsgi_venv_marker.py', extra,
                 extra / 'apwsgi_venv_pth_marker.py',
                 site / 'apwsgi_venv_extra.pth'):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site, extra


@pytest.fixture(scope='module')
def venv():
    """(venv, its site-packages, the .pth directory), made with the
    Python the module embeds."""
    python = module_python_exe()
    if python is None:
        pytest.skip("no python binary beside the module's libpython")
    scratch = scratch_dir('apwsgi-venv-')
    try:
        path = make_venv(python, scratch)
        site, extra = populate(path, scratch)
        yield path, site, extra
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope='module')
def other_venv():
    """A venv of another Python X.Y than the module's."""
    python = python_of_other_version()
    if python is None:
        pytest.skip('no Python of another version on this machine')
    scratch = scratch_dir('apwsgi-venv-other-')
    try:
        path = make_venv(python, scratch)
        populate(path, scratch)
        yield path, python.name.replace('python', '')
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def venv_config(venv):
    loc = support.location
    key = 'SetEnv mod_wsgi.virtualenv "%s"' % venv
    return '\n'.join([loc('/venv', 'venv_app', extra=key),
                      loc('/venv-named', 'venv_app', interpreter='venvtest',
                          extra=key)])


def check(client, server, mount):
    r = client.get(server.url(mount + '/'))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize('mount', ['/venv', '/venv-named'])
def test_virtualenv_packages_are_importable(venv, mount, make_server):
    path, site, extra = venv
    server = make_server(venv_config(path))
    with support.Client() as client:
        for _ in range(5):
            info = check(client, server, mount)
    assert info['virtualenv'] == str(path)
    assert info['marker'] == str(site / 'apwsgi_venv_marker.py')
    assert info['marker_value'] == 'from-venv'
    assert info['pth_marker'] == str(extra / 'apwsgi_venv_pth_marker.py')
    # Added once per interpreter, not once per request.
    assert info['sys_path'].count(str(site)) == 1, info['sys_path']
    assert info['sys_path'].count(str(extra)) == 1, info['sys_path']


@pytest.mark.expect_log('APW00111')
def test_virtualenv_of_another_python_is_refused(other_venv, make_server):
    path, other_version = other_venv
    version, _ = support.module_python()
    server = make_server(venv_config(path))
    log = support.LogWindow(server)
    with support.Client() as client:
        r = client.get(server.url('/venv/'))
    if r.status_code == 200:
        assert r.json()['marker'] is None
    else:
        assert r.status_code == 500
    lines = [line for line in log.wait(str(path), timeout=5)
             if other_version in line and version in line]
    assert lines, log.text()
    assert '[apwsgi:error]' in lines[0] or '[apwsgi:crit]' in lines[0]


# ---- apwsgi serve from a virtualenv ----

def serve_args(*args):
    return ['--module', support.MODULE, '--mpm', support.MPM,
            '--processes', 1, '--threads', 4, *args]


def test_serve_passes_the_running_venv(venv):
    path, _, _ = venv
    out = subprocess.run(
        [str(path / 'bin' / 'python'), '-m', 'apwsgi', 'serve',
         *map(str, serve_args('--show-config', support.APPS / 'venv_app.py'))],
        env=tooling_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'SetEnv mod_wsgi.virtualenv "%s"' % path in out.stdout


def test_serve_refuses_a_venv_of_another_python(other_venv):
    path, other_version = other_venv
    version, _ = support.module_python()
    out = subprocess.run(
        [str(path / 'bin' / 'python'), '-m', 'apwsgi', 'serve',
         *map(str, serve_args(support.APPS / 'venv_app.py'))],
        env=tooling_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert 'is Python %s' % other_version in out.stderr
    assert 'embeds Python %s' % version in out.stderr


def test_serve_from_a_venv_uses_its_packages(venv):
    path, site, _ = venv
    port = find_free_port()
    launcher = Launcher(serve_args('--port', port,
                                   support.APPS / 'venv_app.py'),
                        python=path / 'bin' / 'python')
    with launcher:
        launcher.wait_serving()
        with support.Client() as client:
            r = client.get('http://127.0.0.1:%d/' % port)
        info = json.loads(r.text) if r.status_code == 200 else {}
        assert launcher.stop() == 0
    assert info.get('virtualenv') == str(path)
    assert info.get('marker') == str(site / 'apwsgi_venv_marker.py')
