# SPDX-License-Identifier: Apache-2.0
"""Installing: `pip install .` into a fresh virtualenv builds mod_apwsgi.so
and ships it in the package; Apache loads that file; the `apwsgi` console
script serves with it; a missing apxs gives one clear message; and `make
install` never touches mod_wsgi.so.

The source is copied to a scratch directory first (what an sdist holds,
per MANIFEST.in), so that the build leaves nothing in the checkout.
Independent of the MPM: runs in the event-MPM step of `make test` only.
"""

import os
import shutil
import signal
import subprocess
import sys

import pytest

import support
from apwsgi.apache import find_free_port
from ecosystem import make_readable, make_venv
from harness import Launcher, wait_gone
from support import scratch_dir

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

REPO = support.REPO
SOURCE_ITEMS = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'Makefile',
                'README.md', 'LICENSE', 'NOTICE', 'requirements.txt', 'src',
                'python', 'conf', 'docs')
PIP_TIMEOUT = 300


def copy_source(dest):
    dest.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '*.so', '*.o', '*.d',
                                    '*.egg-info')
    for item in SOURCE_ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        else:
            shutil.copy2(src, dest / item)
    return dest


# setuptools that can build a wheel: its own bdist_wheel (>= 70.1), or
# wheel < 0.46 (requirements.txt) for an older one.
BACKEND_CHECK = """
import setuptools
try:
    import setuptools.command.bdist_wheel
except ImportError:
    import wheel.bdist_wheel
"""


def has_build_backend(python):
    """Whether python can build the wheel without fetching anything."""
    return subprocess.run([str(python), '-c', BACKEND_CHECK],
                          capture_output=True).returncode == 0


def pip_install(venv, source, env=None):
    """pip (this Python's) installing source into venv; without build
    isolation when the venv sees a build backend (no PyPI needed)."""
    python = venv / 'bin' / 'python'
    args = [sys.executable, '-m', 'pip', '--python', str(python), 'install',
            '--disable-pip-version-check', '--no-input']
    if has_build_backend(python):
        args.append('--no-build-isolation')
    args.append(str(source))
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=PIP_TIMEOUT, env=env)


@pytest.fixture(scope='module')
def installed():
    """(venv, installed module path) after pip install of a source copy."""
    scratch = scratch_dir('apwsgi-pip-')
    try:
        source = copy_source(scratch / 'src')
        # Without pip (this Python's pip installs into it); seeing this
        # Python's setuptools and wheel when it has them, so that the
        # build needs no network.
        venv = make_venv(sys.executable, scratch,
                         system_site=has_build_backend(sys.executable))
        out = pip_install(venv, source)
        assert out.returncode == 0, out.stdout + out.stderr
        make_readable(venv)
        found = sorted(venv.glob('lib/python3.*/site-packages/apwsgi/'
                                 'mod_apwsgi.so'))
        assert len(found) == 1, out.stdout
        yield venv, found[0]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_wheel_ships_the_module(installed):
    venv, module = installed
    assert os.access(module, os.R_OK)
    ldd = subprocess.run(['ldd', str(module)], capture_output=True,
                         text=True, check=True).stdout
    version = '%d.%d' % sys.version_info[:2]
    assert 'libpython%s' % version in ldd
    assert 'not found' not in ldd
    # Linked and compiled for the base installation, not the venv.
    assert (sys.base_prefix.encode() + b'\0') in module.read_bytes()
    # The templates that `apwsgi serve` renders are installed too.
    assert (module.parent / 'templates' / 'serve.conf.in').is_file()


def test_apache_loads_the_installed_module(installed, make_server):
    venv, module = installed
    config = support.location('/pip', 'serve_app')
    server = make_server(config, module=module)
    with support.Client() as client:
        r = client.get(server.url('/pip/'))
    assert (r.status_code, r.content) == (200, b'serve-app')
    assert support.LogWindow(server, 0).tagged('APW00004')


def clean_env():
    """The environment without the checkout's tooling on PYTHONPATH."""
    return {k: v for k, v in os.environ.items()
            if k not in ('PYTHONPATH', 'APWSGI_MODULE', 'PYTHONHOME')}


def test_module_config_from_the_venv(installed):
    venv, module = installed
    out = subprocess.run([str(venv / 'bin' / 'apwsgi'), 'module-config'],
                         capture_output=True, text=True, timeout=60,
                         env=clean_env())
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert 'LoadModule apwsgi_module "%s"' % module in lines
    assert 'SetEnv mod_wsgi.virtualenv "%s"' % venv in lines
    assert not [line for line in lines if 'PYTHONHOME=' in line]


def test_console_script_serves_with_the_installed_module(installed):
    venv, module = installed
    port = find_free_port()
    env = clean_env()
    launcher = Launcher(['--port', port, '--processes', 1, '--threads', 4,
                         '--show-config', support.APPS / 'serve_app.py'],
                        python=venv / 'bin' / 'python', env=env)
    with launcher:
        assert launcher.wait_exit() == 0, launcher.output()
        assert 'LoadModule apwsgi_module "%s"' % module in launcher.output()
    launcher = Launcher(['--port', port, '--processes', 1, '--threads', 4,
                         support.APPS / 'serve_app.py'],
                        python=venv / 'bin' / 'python', env=env)
    with launcher:
        launcher.wait_serving()
        with support.Client() as client:
            r = client.get('http://127.0.0.1:%d/' % port)
        assert (r.status_code, r.content) == (200, b'serve-app')
        assert launcher.stop(signal.SIGINT) == 0
        wait_gone(launcher.apache_pid)


def test_missing_apxs_names_the_packages(installed):
    venv, module = installed
    scratch = scratch_dir('apwsgi-noapxs-')
    try:
        source = copy_source(scratch / 'src')
        env = dict(os.environ, APXS='/nonexistent/apxs')
        out = pip_install(venv, source, env=env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert 'apwsgi: apxs not found' in text
    assert 'apache2-dev (Debian/Ubuntu' in text
    assert 'httpd-devel (Fedora/RHEL' in text


def test_make_install_never_touches_mod_wsgi():
    """`make install` writes mod_apwsgi.so and apwsgi.load only: a
    mod_wsgi.so (and a wsgi.load) already there stay as they were."""
    scratch = scratch_dir('apwsgi-install-')
    try:
        libexec, mods = scratch / 'modules', scratch / 'mods-available'
        libexec.mkdir()
        mods.mkdir()
        (libexec / 'mod_wsgi.so').write_bytes(b'mod_wsgi sentinel')
        (mods / 'wsgi.load').write_text('LoadModule wsgi_module x\n')
        builddir = os.path.relpath(support.MODULE.parent, REPO)
        out = subprocess.run(
            ['make', '--no-print-directory', 'install',
             'BUILDDIR=' + builddir, 'LIBEXECDIR=%s' % libexec,
             'MODS_AVAILABLE=%s' % mods],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        assert sorted(p.name for p in libexec.iterdir()) == [
            'mod_apwsgi.so', 'mod_wsgi.so']
        assert (libexec / 'mod_wsgi.so').read_bytes() == b'mod_wsgi sentinel'
        assert (libexec / 'mod_apwsgi.so').read_bytes() == \
            support.MODULE.read_bytes()
        load = (mods / 'apwsgi.load').read_text()
        assert 'LoadModule apwsgi_module %s/mod_apwsgi.so' % libexec in load
        assert '# Depends: env' in load
        assert (mods / 'wsgi.load').read_text() == \
            'LoadModule wsgi_module x\n'
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_top_from_the_venv(installed, make_server):
    """`apwsgi top` runs from the wheel, with no checkout on its path."""
    venv, module = installed
    server = make_server('<Location /status>\n    SetHandler apwsgi-status\n'
                         '</Location>', module=module)
    out = subprocess.run([str(venv / 'bin' / 'apwsgi'), 'top', '--once',
                          '--url', server.url('/status')],
                         capture_output=True, text=True, timeout=60,
                         env=clean_env(), cwd='/')
    assert (out.returncode, out.stderr) == (0, ''), out
    assert out.stdout.startswith('apwsgi top - %s - ' % server.url('/status'))
    assert '\nPROCESSES (%d)\n' % support.PROCESSES in out.stdout
