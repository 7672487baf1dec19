# SPDX-License-Identifier: Apache-2.0
"""`apwsgi serve` (python -m apwsgi serve) and `apwsgi module-config`.

Each test runs the launcher in a subprocess on a free port, as a person
would run it in a terminal, under the MPM of this test run: the generated
configuration, requests through it, its terminal output (error log and
access log), and how it stops (Ctrl-C, SIGTERM, and SIGKILL of the
launcher, after which Apache must not survive).  The harness gives each
launcher a --server-root so that the log check can read Apache's log;
one test runs without it, as a person would, and checks that the
temporary ServerRoot is gone at exit.
"""

import os
import signal
import socket
import subprocess
import sys

import pytest

import support
from apwsgi.apache import find_free_port
from harness import Launcher, group_pids, wait_gone
from support import tooling_env

APPS = support.APPS
SCRIPT = APPS / 'serve_app.py'
STATIC = APPS / 'serve_static'


def run_cli(*args, cwd=None, env=None, timeout=60):
    return subprocess.run([sys.executable, '-m', 'apwsgi', *map(str, args)],
                          cwd=cwd, env=env or tooling_env(),
                          capture_output=True, text=True, timeout=timeout)


def show_config(*args, cwd=None):
    out = run_cli('serve', '--module', support.MODULE, '--show-config',
                  *args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def serve(*args, port, **kw):
    return Launcher(['--module', support.MODULE, '--port', port,
                     '--mpm', support.MPM, '--processes', 1,
                     '--threads', 4, *args], **kw)


def get(port, path):
    with support.Client() as client:
        return client.get('http://127.0.0.1:%d%s' % (port, path))


def assert_stopped(launcher):
    """Apache (parent and children) is gone."""
    wait_gone(launcher.apache_pid)
    assert group_pids(launcher.apache_pid) == []


# ---- the generated configuration ----

def test_free_port_is_below_the_ephemeral_range():
    """A port no outgoing connection can take as its source port before
    the server binds it: below net.ipv4.ip_local_port_range, and free as
    Apache binds (SO_REUSEADDR: a port a closed test server left in
    TIME_WAIT is free to it)."""
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        low = int(f.read().split()[0])
    if low <= 10000:
        pytest.skip('the ephemeral range starts at %d: no room below' % low)
    for _ in range(20):
        port = find_free_port('127.0.0.1')
        assert 10000 <= port < low
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(('127.0.0.1', port))


def test_config_for_module_target():
    text = show_config('serve_app::other', '--directory', APPS)
    assert 'LoadModule apwsgi_module "%s"' % support.MODULE in text
    assert 'mpm_event_module' in text
    cores = len(os.sched_getaffinity(0))
    assert '    StartServers %d\n' % cores in text
    assert '    ThreadsPerChild 25\n' in text
    assert '<Location "/">\n    SetHandler mod_wsgi\n' in text
    assert 'SetEnv mod_wsgi.application "serve_app::other"' in text
    assert 'SetEnv mod_wsgi.directory "%s"' % APPS in text
    assert 'mod_wsgi.interpreter' not in text
    assert 'mod_wsgi.reload' not in text
    assert 'SetEnv mod_wsgi.map_to_storage "off"' in text
    assert '\nEnableSendfile On\n' in text


def test_gunicorn_spelling_and_current_directory():
    text = show_config('serve_app:other', cwd=APPS)
    assert 'SetEnv mod_wsgi.application "serve_app::other"' in text
    assert 'SetEnv mod_wsgi.directory "%s"' % APPS in text


def test_config_for_script_and_options():
    text = show_config(SCRIPT.relative_to(support.REPO), '--interpreter',
                       'web', '--reload', '--processes', 3, '--threads', 7,
                       '--static', '/assets/=%s' % STATIC, '--port', 9999,
                       '--host', '127.0.0.1', cwd=support.REPO)
    assert 'SetEnv mod_wsgi.application "%s"' % SCRIPT in text
    assert 'SetEnv mod_wsgi.directory "%s"' % APPS in text
    assert 'SetEnv mod_wsgi.interpreter "web"' in text
    assert 'SetEnv mod_wsgi.reload "on"' in text
    assert 'Listen 127.0.0.1:9999' in text
    assert '    StartServers 3\n' in text
    assert '    ThreadsPerChild 7\n' in text
    assert 'MaxRequestWorkers 21' in text
    assert 'Alias "/assets" "%s"' % STATIC in text
    assert '<Location "/assets">\n    SetHandler none' in text
    # The static Location comes after the application's, so it wins.
    assert text.index('<Location "/assets">') > text.index('<Location "/">')


def test_reload_uses_a_named_interpreter():
    text = show_config(SCRIPT, '--reload')
    assert 'SetEnv mod_wsgi.interpreter "app"' in text
    assert 'SetEnv mod_wsgi.reload "on"' in text


def test_no_virtualenv_key_outside_a_venv():
    if sys.prefix != sys.base_prefix:
        pytest.skip('the test suite itself runs in a virtualenv')
    assert 'mod_wsgi.virtualenv' not in show_config(SCRIPT)


@pytest.mark.parametrize('args, message', [
    (['no/such/app.py'], 'no such script'),
    (['not a target'], 'neither a script path nor module::callable'),
    (['serve_app::1bad'], 'neither a script path nor module::callable'),
    ([SCRIPT, '--static', 'assets=%s' % STATIC], 'expected URL=DIR'),
    ([SCRIPT, '--static', '/assets=/no/such/dir'], 'is not a directory'),
    ([SCRIPT, '--module', '/no/such/mod_apwsgi.so'], 'does not exist'),
])
def test_usage_errors(args, message):
    out = run_cli('serve', *args)
    assert out.returncode == 2, out
    assert message in out.stderr
    assert out.stderr.startswith('apwsgi serve: ')


def test_port_in_use_is_reported():
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli('serve', '--module', support.MODULE, '--port', port,
                      SCRIPT)
    assert out.returncode == 1
    assert 'already in use' in out.stderr


# ---- serving ----

@pytest.mark.expect_log('APW00502')  # the app prints on purpose
def test_script_static_logs_and_ctrl_c():
    port = find_free_port()
    token = support.token()
    with serve(SCRIPT, '--access-log', '--static', '/assets=%s' % STATIC,
               port=port) as launcher:
        first = launcher.wait_line(r'^apwsgi: starting Apache \(%s MPM'
                                   % support.MPM)
        assert first.string.endswith('on http://127.0.0.1:%d/ ...' % port)
        launcher.wait_serving()
        assert launcher.root.is_dir()

        info = get(port, '/info').json()
        assert info['interpreter'] is None
        assert info['script_name'] == '' and info['path_info'] == '/info'
        assert info['sys_path0'] == str(APPS)

        r = get(port, '/assets/hello.txt')
        assert r.status_code == 200
        assert r.content == (STATIC / 'hello.txt').read_bytes()
        assert r.headers['Content-Type'].startswith('text/plain')
        assert 'ETag' in r.headers  # Apache's default handler, not Python
        assert get(port, '/info').json()['calls'] == info['calls'] + 1

        # The error log reaches the terminal: a line the app prints.
        assert get(port, '/print?' + token).status_code == 200
        launcher.wait_line(r'APW00502: serve-app says %s' % token)
        # And with --access-log, the access log.
        launcher.wait_line(r'"GET /assets/hello.txt HTTP/1.1" 200')

        assert launcher.stop(signal.SIGINT) == 0
        assert 'apwsgi: stopping Apache ...' in launcher.output()
        assert_stopped(launcher)


def test_module_target_named_interpreter_and_sigterm():
    """Also: without --server-root, the temporary ServerRoot is removed
    at exit (the log check reads the copy of the log printed)."""
    port = find_free_port()
    with serve('serve_app::application', '--directory', APPS,
               '--interpreter', 'served', port=port,
               temporary_root=True) as launcher:
        launcher.wait_serving()
        assert "(interpreter 'served')" in launcher.output()
        assert launcher.root.is_dir()
        assert launcher.root.name.startswith('apwsgi-serve-')
        info = get(port, '/info').json()
        assert info['interpreter'] == 'served'
        assert launcher.stop(signal.SIGTERM) == 0
        assert_stopped(launcher)
        assert not launcher.root.exists()


def test_script_with_callable_name():
    port = find_free_port()
    with serve('%s::other' % SCRIPT, port=port) as launcher:
        launcher.wait_serving()
        assert get(port, '/').content == b'serve-app other'
        assert launcher.stop() == 0


def test_killed_launcher_takes_apache_with_it():
    """SIGKILL cannot be caught: the kernel's parent-death signal
    (ApacheServer, prctl PR_SET_PDEATHSIG) must stop Apache."""
    port = find_free_port()
    with serve(SCRIPT, port=port) as launcher:
        launcher.wait_serving()
        assert get(port, '/').status_code == 200
        children = group_pids(launcher.apache_pid)
        assert len(children) >= 2, children  # parent and a child
        launcher.kill()
        wait_gone(launcher.apache_pid)
        support.wait_for(lambda: not group_pids(launcher.apache_pid), 20,
                         'the Apache children to exit')


# ---- module-config ----

def test_module_config_prints_load_module():
    out = run_cli('module-config', '--module', support.MODULE)
    assert out.returncode == 0, out.stderr
    assert 'LoadModule apwsgi_module "%s"' % support.MODULE in \
        out.stdout.splitlines()
    for line in out.stdout.splitlines():
        assert line.startswith(('#', 'LoadModule ', 'SetEnv ')), line


def test_module_config_finds_the_checkout_build():
    env = tooling_env({'APWSGI_MODULE': str(support.MODULE)})
    out = run_cli('module-config', env=env)
    assert 'LoadModule apwsgi_module "%s"' % support.MODULE in out.stdout


def test_module_config_without_a_module():
    out = run_cli('module-config', '--module', '/no/such/mod_apwsgi.so')
    assert out.returncode == 1
    assert 'does not exist' in out.stderr
