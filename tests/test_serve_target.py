# SPDX-License-Identifier: Apache-2.0
"""`apwsgi serve TARGET` when TARGET reads as a file name and a module name.

Django's `startproject mysite` makes mysite/wsgi.py, served as
`mysite.wsgi::application`, which is also a file name.  The rule: an
existing file wins; otherwise a module found from the directory is served;
anything else is refused, naming both readings.  The served cases run the
launcher in a subprocess against a real Apache under this run's MPM, as
test_serve.py does, and check that server's error log after the stop.

The site (a scratch directory Apache's user can read):
    mysite/wsgi.py     `application` answers "module mysite.wsgi"
    app.wsgi           a script: `application` answers "script app.wsgi",
                       `other` answers "script app.wsgi other"
    app/wsgi.py        the module reading of app.wsgi: "module app.wsgi"
    noisy/__init__.py  writes noisy/imported when imported
"""

import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

import support
from apwsgi.apache import find_free_port
from ecosystem import make_readable
from harness import Launcher, group_pids, wait_gone
from support import scratch_dir, tooling_env


def app_source(body, other=None):
    """A WSGI module whose `application` (and `other`) answer body."""
    text = textwrap.dedent('''\
        def _answer(body):
            def app(environ, start_response):
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [body]
            return app


        application = _answer(%r)
        ''' % body)
    if other is not None:
        text += 'other = _answer(%r)\n' % other
    return text


@pytest.fixture(scope='module')
def site():
    root = scratch_dir('apwsgi-target-')
    try:
        files = {
            'mysite/__init__.py': '',
            'mysite/wsgi.py': app_source(b'module mysite.wsgi'),
            'app.wsgi': app_source(b'script app.wsgi',
                                   b'script app.wsgi other'),
            'app/__init__.py': '',
            'app/wsgi.py': app_source(b'module app.wsgi'),
            'noisy/__init__.py': "open(__path__[0] + '/imported', 'w')\n",
            'noisy/wsgi.py': app_source(b'module noisy.wsgi'),
        }
        for name, text in files.items():
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_text(text)
        make_readable(root)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_serve(*args, cwd):
    return subprocess.run(
        [sys.executable, '-m', 'apwsgi', 'serve', '--module', support.MODULE,
         *map(str, args)], cwd=cwd, env=tooling_env(), capture_output=True,
        text=True, timeout=60)


def show_config(*args, cwd):
    out = run_serve('--show-config', *args, cwd=cwd)
    assert (out.returncode, out.stderr) == (0, ''), out
    return out.stdout


def serve_and_get(site, target):
    """Serve target from site on a free port; GET / -> (status, body, the
    launcher's serving line).  Stops it with Ctrl-C, and checks that it
    exits 0 and leaves no process (the harness checks its log after the
    test)."""
    port = find_free_port()
    launcher = Launcher(['--module', support.MODULE, '--port', port,
                         '--mpm', support.MPM, '--processes', 1,
                         '--threads', 4, target], cwd=site)
    with launcher:
        launcher.wait_serving()
        serving = launcher.wait_line(r'^apwsgi: serving ').string
        with support.Client() as client:
            r = client.get('http://127.0.0.1:%d/' % port)
        assert launcher.stop(signal.SIGINT) == 0, launcher.output()
        wait_gone(launcher.apache_pid)
        assert group_pids(launcher.apache_pid) == []
    return r.status_code, r.content, serving


# ---- a module that is also a file name: Django's layout ----

@pytest.mark.parametrize('target', ['mysite.wsgi::application',
                                    'mysite.wsgi:application'])
def test_django_layout_is_served_as_a_module(site, target):
    status, body, serving = serve_and_get(site, target)
    assert (status, body) == (200, b'module mysite.wsgi')
    assert 'serving mysite.wsgi::application (main interpreter) on' in \
        serving


@pytest.mark.parametrize('target, application', [
    ('mysite.wsgi', 'mysite.wsgi'),
    ('mysite.wsgi::application', 'mysite.wsgi::application'),
    ('mysite.wsgi:application', 'mysite.wsgi::application'),
])
def test_module_configuration(site, target, application):
    text = show_config(target, cwd=site)
    assert 'SetEnv mod_wsgi.application "%s"' % application in text
    assert 'SetEnv mod_wsgi.directory "%s"' % site in text


def test_module_found_from_the_directory_option(site):
    text = show_config('--directory', site, 'mysite.wsgi::application',
                       cwd='/')
    assert 'SetEnv mod_wsgi.application "mysite.wsgi::application"' in text
    assert 'SetEnv mod_wsgi.directory "%s"' % site in text


def test_finding_a_module_imports_nothing(site):
    text = show_config('noisy.wsgi::application', cwd=site)
    assert 'SetEnv mod_wsgi.application "noisy.wsgi::application"' in text
    assert not (site / 'noisy' / 'imported').exists()


# ---- an existing file wins ----

def test_existing_file_wins_over_the_module(site):
    status, body, serving = serve_and_get(site, 'app.wsgi')
    assert (status, body) == (200, b'script app.wsgi')
    assert 'serving %s (main interpreter) on' % (site / 'app.wsgi') in \
        serving


@pytest.mark.parametrize('target', ['app.wsgi::other', 'app.wsgi:other'])
def test_existing_file_with_a_callable(site, target):
    text = show_config(target, cwd=site)
    assert 'SetEnv mod_wsgi.application "%s::other"' % (
        site / 'app.wsgi') in text
    assert 'SetEnv mod_wsgi.directory "%s"' % site in text


# ---- neither a file nor a module ----

@pytest.mark.parametrize('target, script, why', [
    ('nosuch.wsgi', 'nosuch.wsgi',
     "there is no module 'nosuch.wsgi' in {site} (--directory) or on this "
     "Python's path"),
    ('mysite.nosuch::application', 'mysite.nosuch',
     "there is no module 'mysite.nosuch' in {site} (--directory) or on "
     "this Python's path"),
    ('nosuch/app.wsgi', 'nosuch/app.wsgi',
     "'nosuch/app.wsgi' is not a dotted module name"),
    ('mysite.wsgi::1st', 'mysite.wsgi', "'1st' is not a callable name"),
])
def test_neither_file_nor_module_is_refused(site, target, script, why):
    out = run_serve(target, cwd=site)
    assert out.returncode == 2
    assert out.stdout == ''
    assert out.stderr == (
        "apwsgi serve: %r is neither a script path nor module::callable: "
        "no such script %s, and %s\n"
        % (target, site / script, why.format(site=site)))
