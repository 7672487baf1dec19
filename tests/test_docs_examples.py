# SPDX-License-Identifier: Apache-2.0
"""The documentation's copy-paste examples, run against a real Apache.

In docs/*.rst, a code block right after a reST comment `.. example: NAME`
is an example (in README.md, a fenced block right after
`<!-- example: NAME -->`).  EXAMPLES below says how each one is checked,
and the two must match (an example without a check, or a check without
its example, fails).

- `apache` blocks are appended to a generated server configuration, after
  Debian's `<Directory /> Require all denied`, with `/srv/myapp` replaced
  by a scratch copy of tests/apps/docs_myapp (plus a venv at venv/).
- `sh` blocks: their `apwsgi serve` (or `python3 examples/...`) line runs,
  from the repository, on a free port.

Also: every other `apache` block of the pages passes `apache2 -t` inside a
generated server (but those that show mod_wsgi's or mod_python's own
directives), and so does every file in conf/.
Independent of the MPM: runs in the event-MPM step of `make test` only.
"""

import http.client
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

import harness
import support
from apwsgi.apache import ApacheServer, find_free_port
from ecosystem import (
    make_readable,
    make_venv,
    module_python_exe,
    venv_site_packages,
)
from harness import Launcher, running
from support import scratch_dir, tooling_env

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

README = support.REPO / 'README.md'
DOCS = support.REPO / 'docs'
MYAPP = support.APPS / 'docs_myapp'
README_EXAMPLE_RE = re.compile(
    r'^([ \t]*)<!-- example: (\S+) -->\n[ \t]*```(\w+)\n(.*?)\n[ \t]*```',
    re.M | re.S)
RST_EXAMPLE_RE = re.compile(r'^( *)\.\. example: (\S+)\s*$')
RST_CODE_RE = re.compile(r'^( *)\.\. code-block:: (\w+)\s*$')
RST_OPTION_RE = re.compile(r'^ +:[\w-]+:')
DEBIAN_DEFAULTS = '<Directory />\n    Require all denied\n</Directory>\n'
# Blocks that show another module's configuration, not apwsgi's.
FOREIGN_DIRECTIVE_RE = re.compile(r'^\s*(WSGI\w+|Python\w+)\b', re.M)


def rst_code_blocks(path):
    """[(line, language, text, example name or None)] of the reST page's
    `.. code-block::` directives; text dedented."""
    lines = path.read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        match = RST_CODE_RE.match(line)
        if not match:
            continue
        indent, language = len(match.group(1)), match.group(2)
        j = i + 1
        while j < len(lines) and (RST_OPTION_RE.match(lines[j])
                                  and len(lines[j]) - len(lines[j].lstrip())
                                  > indent):
            j += 1
        body = []
        for text in lines[j:]:
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            body.append(text)
        name = None
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = RST_EXAMPLE_RE.match(lines[k]) if k >= 0 else None
        if marker and len(marker.group(1)) == indent:
            name = marker.group(2)
        found.append((i + 1, language,
                      textwrap.dedent('\n'.join(body)).strip('\n'), name))
    return found


def doc_pages():
    return sorted(DOCS.glob('*.rst'))


def marked_examples():
    """{name: (language, text)} of the marked blocks of docs/ and the
    README."""
    found = {}
    for page in doc_pages():
        for _, language, text, name in rst_code_blocks(page):
            if name:
                assert name not in found, 'example %s appears twice' % name
                found[name] = (language, text)
    for match in README_EXAMPLE_RE.finditer(README.read_text()):
        indent, name, language, body = match.groups()
        assert name not in found, 'example %s appears twice' % name
        found[name] = (language, textwrap.dedent(
            '\n'.join(line[len(indent):] if line.startswith(indent) else line
                      for line in body.splitlines())))
    return found


@pytest.fixture(scope='module')
def srv():
    """A world-readable copy of docs_myapp with a venv (made by the
    module's Python) holding myapp_dependency; -> its path."""
    python = module_python_exe()
    if python is None:
        pytest.skip("no python binary beside the module's libpython")
    scratch = scratch_dir('apwsgi-docs-')
    try:
        myapp = scratch / 'myapp'
        shutil.copytree(MYAPP, myapp, ignore=shutil.ignore_patterns(
            '__pycache__'))
        venv = make_venv(python, myapp)
        (venv_site_packages(venv) / 'myapp_dependency.py').write_text(
            'NAME = "myapp_dependency"\n')
        make_readable(myapp)
        yield myapp
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def apache_example(name, srv, replace=None, **kw):
    """A server running the example's block (paths, and what
    `replace` maps, substituted)."""
    language, text = EXAMPLES_TEXT[name]
    assert language == 'apache', (name, language)
    text = text.replace('/srv/myapp', str(srv))
    for old, new in (replace or {}).items():
        assert old in text, (name, old)
        text = text.replace(old, new)
    port = find_free_port()
    text = text.replace('*:80>', '*:%d>' % port)
    return running(DEBIAN_DEFAULTS + text, port=port, **kw)


def get_json(server, path, **kw):
    with support.Client() as client:
        r = client.get(server.url(path), **kw)
    assert r.status_code == 200, r.text
    return r.json()


def get_json_from(server, path, source, headers):
    """GET path from the loopback address `source` (http.client, which
    binds the client side) -> the JSON body of a 200."""
    conn = http.client.HTTPConnection(server.host, server.port,
                                      source_address=(source, 0),
                                      timeout=support.TIMEOUT)
    try:
        conn.request('GET', path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, body
    return json.loads(body)


def shell_command(name, prefix):
    """The example's command line starting with prefix, as argv."""
    language, text = EXAMPLES_TEXT[name]
    assert language == 'sh', (name, language)
    text = text.replace('\\\n', ' ')
    lines = [line.split('#')[0].strip() for line in text.splitlines()]
    commands = [line for line in lines if line.startswith(prefix)]
    assert len(commands) == 1, (name, commands)
    return shlex.split(commands[0])


def run_serve(argv, srv=None, extra=()):
    """Run an `apwsgi serve` example line on a free port (the module
    under test added); -> (Launcher, port) once it serves."""
    assert argv[:2] == ['apwsgi', 'serve'], argv
    args = [a.replace('/srv/myapp', str(srv)) if srv else a
            for a in argv[2:]]
    port = find_free_port()
    if '--port' in args:
        args[args.index('--port') + 1] = str(port)
    else:
        args = ['--port', str(port)] + args
    launcher = Launcher(['--module', support.MODULE, *extra, *args],
                        cwd=support.REPO)
    return launcher, port


# ---- the checks, one per example ----

def check_readme_config(srv):
    """The README's minimal configuration (its LoadModule line names the
    module that is loaded already, which Apache skips)."""
    with apache_example('readme-config', srv) as server:
        info = get_json(server, '/myapp/x')
    assert info['source'] == 'package'
    assert (info['script_name'], info['path_info']) == ('/myapp', '/x')
    assert info['interpreter'] is None


def check_quickstart(srv):
    launcher, port = run_serve(shell_command('quickstart', 'apwsgi serve'))
    with launcher:
        launcher.wait_serving()
        with support.Client() as client:
            r = client.get('http://127.0.0.1:%d/' % port)
        assert r.status_code == 200
        assert r.text.startswith('Hello from apwsgi.')
        assert launcher.stop() == 0


def check_serve_options(srv):
    probe = subprocess.run([str(module_python_exe()), '-c', 'import flask'],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Flask is not installed for the module's Python")
    launcher, port = run_serve(shell_command('serve-options', 'apwsgi'),
                               extra=['--processes', '1'])
    with launcher:
        launcher.wait_serving()
        base = 'http://127.0.0.1:%d' % port
        with support.Client() as client:
            info = client.get(base + '/api/info').json()
            assert info['interpreter'] == 'flask'
            r = client.get(base + '/files/hello.py')
            assert r.content == (support.REPO / 'examples' / 'hello' /
                                 'hello.py').read_bytes()
        launcher.wait_line(r'"GET /files/hello.py HTTP/1.1" 200')
        assert launcher.stop() == 0


def check_config_virtualenv(srv):
    with apache_example('config-virtualenv', srv) as server:
        info = get_json(server, '/myapp/')
    assert info['source'] == 'package'
    assert info['dependency'] == str(
        venv_site_packages(srv / 'venv') / 'myapp_dependency.py')


def check_config_pool(srv):
    """Members myapp#N are created (on Python 3.11 they share the GIL,
    with a warning)."""
    with apache_example('config-pool', srv) as server:
        for _ in range(4):
            info = get_json(server, '/myapp/')
            assert info['interpreter'] == 'myapp'
        window = support.LogWindow(server, 0)
        created = window.tagged('APW00006', "'myapp#")
        assert created, window.text()[-3000:]


def check_config_reload(srv):
    wsgi = srv / 'myapp' / 'wsgi.py'
    original = wsgi.read_text()
    try:
        with apache_example('config-reload', srv) as server:
            with support.Client() as client:
                first = client.get(server.url('/myapp/')).json()
                assert first['version'] == 1
                wsgi.write_text(original.replace('VERSION = 1',
                                                 'VERSION = 2'))
                later = time.time() + 2
                os.utime(wsgi, (later, later))

                def reloaded():
                    return client.get(server.url('/myapp/')).json()[
                        'version'] == 2
                support.wait_for(reloaded, 15, 'the new code to be served')
    finally:
        wsgi.write_text(original)
        wsgi.chmod(0o644)


def check_deploy_vhost(srv):
    with apache_example('deploy-vhost', srv) as server:
        host = {'Host': 'myapp.example.com'}
        info = get_json(server, '/some/page', headers=host)
        assert info['source'] == 'package'
        assert info['interpreter'] == 'myapp'
        assert (info['script_name'], info['path_info']) == ('',
                                                            '/some/page')
        assert info['dependency']
        with support.Client() as client:
            r = client.get(server.url('/static/style.css'), headers=host)
        assert r.status_code == 200
        assert r.content == (srv / 'static' / 'style.css').read_bytes()
        assert r.headers['Content-Type'].startswith('text/css')


def check_deploy_scale_out(srv):
    argv = shell_command('deploy-scale-out', 'python3')
    assert argv[1] == 'examples/scale-out/scale_out.py', argv
    roots = scratch_dir('apwsgi-scale-out-')
    harness.adopt(*(harness.LogFile(roots / name / 'logs' / 'error.log',
                                    'event')
                    for name in ('front', 'b1', 'b2', 'b3')), root=roots)
    out = subprocess.run(
        [sys.executable, *argv[1:], '--port', str(find_free_port()),
         '--module', str(support.MODULE), '--root', str(roots)],
        cwd=support.REPO, env=tooling_env(), capture_output=True, text=True,
        timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'requests 600, failed ' in out.stdout
    assert "after stopping b2:   {'b1': " in out.stdout


def check_migrate_scriptalias(srv):
    with apache_example('migrate-scriptalias', srv) as server:
        info = get_json(server, '/myapp/x/y')
    assert info['source'] == 'script'
    assert (info['script_name'], info['path_info']) == ('/myapp', '/x/y')
    assert info['interpreter'] is None


def check_migrate_scriptalias_root(srv):
    with apache_example('migrate-scriptalias-root', srv) as server:
        info = get_json(server, '/x')
    assert info['source'] == 'script'
    assert (info['script_name'], info['path_info']) == ('', '/x')


def check_migrate_python_path(srv):
    with apache_example('migrate-python-path', srv) as server:
        info = get_json(server, '/page')
    assert info['source'] == 'package'
    assert info['interpreter'] is None
    assert info['dependency'] is None  # no venv here


def check_migrate_application_group(srv):
    with apache_example('migrate-application-group', srv) as server:
        info = get_json(server, '/myapp/')
    assert info['source'] == 'package'
    assert info['interpreter'] == 'myapp'


def check_migrate_daemon_process(srv):
    with apache_example('migrate-daemon-process', srv, processes=1,
                        threads=25) as server:
        info = get_json(server, '/myapp/')
        assert info['interpreter'] == 'myapp'
        assert info['dependency']
        support.wait_for(lambda: len(server.child_pids()) >= 2, 20,
                         'StartServers 2 children')


def check_migrate_pass_authorization(srv):
    with apache_example('migrate-pass-authorization', srv) as server:
        info = get_json(server, '/myapp/',
                        headers={'Authorization': 'Bearer docs-token'})
    assert info['authorization'] == 'Bearer docs-token'


# The example's proxy, 10.0.0.5, becomes a loopback address of its own.
TRUSTED_PROXY = '127.0.0.2'
FORWARDED = {'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https'}


def check_migrate_trusted_proxies(srv):
    """From the trusted proxy, the forwarded client address and scheme
    count; from another address, the same headers change nothing."""
    with apache_example('migrate-trusted-proxies', srv,
                        replace={'10.0.0.5': TRUSTED_PROXY},
                        modules=('remoteip',)) as server:
        proxied = get_json_from(server, '/myapp/x', TRUSTED_PROXY, FORWARDED)
        direct = get_json_from(server, '/myapp/x', '127.0.0.1', FORWARDED)
        plain = get_json_from(server, '/myapp/x', TRUSTED_PROXY,
                              {'X-Forwarded-For': '203.0.113.7'})
    assert (proxied['remote_addr'], proxied['url_scheme'],
            proxied['https']) == ('203.0.113.7', 'https', 'on')
    assert (direct['remote_addr'], direct['url_scheme'],
            direct['https']) == ('127.0.0.1', 'http', 'off')
    assert (direct['forwarded_for'], direct['forwarded_proto']) == (
        '203.0.113.7', 'https')
    assert (plain['remote_addr'], plain['url_scheme'],
            plain['https']) == ('203.0.113.7', 'http', 'off')


def check_migrate_express(srv):
    launcher, port = run_serve(shell_command('migrate-express', 'apwsgi'),
                               srv)
    with launcher:
        launcher.wait_line(r'starting Apache \(event MPM, 2 processes x '
                           r'15 threads\)')
        launcher.wait_serving()
        with support.Client() as client:
            info = client.get('http://127.0.0.1:%d/' % port).json()
        assert info['source'] == 'script'
        assert launcher.stop() == 0


EXAMPLES = {
    'readme-config': check_readme_config,
    'quickstart': check_quickstart,
    'serve-options': check_serve_options,
    'config-virtualenv': check_config_virtualenv,
    'config-pool': check_config_pool,
    'config-reload': check_config_reload,
    'deploy-vhost': check_deploy_vhost,
    'deploy-scale-out': check_deploy_scale_out,
    'migrate-scriptalias': check_migrate_scriptalias,
    'migrate-scriptalias-root': check_migrate_scriptalias_root,
    'migrate-python-path': check_migrate_python_path,
    'migrate-application-group': check_migrate_application_group,
    'migrate-daemon-process': check_migrate_daemon_process,
    'migrate-pass-authorization': check_migrate_pass_authorization,
    'migrate-trusted-proxies': check_migrate_trusted_proxies,
    'migrate-express': check_migrate_express,
}
# Examples that need a server this file does not make, run by another
# test file: name -> that file.
CHECKED_ELSEWHERE = {
    'modpython-migration': 'test_modpython_mode.py',
}
EXAMPLES_TEXT = marked_examples()


def test_every_example_has_a_check():
    assert sorted(EXAMPLES_TEXT) == sorted(
        set(EXAMPLES) | set(CHECKED_ELSEWHERE))
    for name, test_file in CHECKED_ELSEWHERE.items():
        text = (pathlib.Path(__file__).parent / test_file).read_text()
        assert "doc_example(%r)" % name in text, (name, test_file)


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_doc_example(name, srv):
    if name not in EXAMPLES_TEXT:
        pytest.fail('neither docs/ nor README.md has an example %r' % name)
    EXAMPLES[name](srv)


# ---- every other apache block of the pages, and conf/ ----

def config_test(text, module=str(support.MODULE), modules=()):
    """`apache2 -t` of text inside a generated server -> its output;
    fails the test unless the syntax is OK."""
    root = scratch_dir('apwsgi-conf-')
    try:
        server = ApacheServer(module, text, root=root, modules=modules)
        server.conf_file.write_text(server.render_config())
        out = subprocess.run([server.binary, '-t', '-d', str(root), '-f',
                              str(server.conf_file)],
                             capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert out.returncode == 0, text + '\n' + out.stdout + out.stderr
    assert 'Syntax OK' in out.stdout + out.stderr
    return out.stdout + out.stderr


APACHE_BLOCKS = [
    pytest.param(text, id='%s:%d' % (page.name, line))
    for page in doc_pages()
    for line, language, text, name in rst_code_blocks(page)
    if language == 'apache' and not name
    and not FOREIGN_DIRECTIVE_RE.search(text)]


def test_pages_have_apache_blocks():
    """The block finder finds the pages' blocks (a test of the test)."""
    assert len(APACHE_BLOCKS) >= 20
    assert 'migrate-trusted-proxies' in EXAMPLES_TEXT


@pytest.mark.parametrize('text', APACHE_BLOCKS)
def test_doc_apache_block_is_valid_config(text):
    """An apache block of the pages passes `apache2 -t` in a generated
    server that loads apwsgi, mod_remoteip and the Basic authentication
    modules Debian enables by default."""
    config_test(DEBIAN_DEFAULTS + text,
                modules=('remoteip', 'auth_basic', 'authn_core',
                         'authn_file', 'authz_user'))


CONF_FILES = sorted(p.name for p in (support.REPO / 'conf').iterdir()
                    if p.suffix in ('.conf', '.load'))


@pytest.mark.parametrize('name', CONF_FILES)
def test_conf_file_is_valid_apache_config(name):
    """conf/NAME passes `apache2 -t` in a generated server (apwsgi.load
    with its path pointed at the module under test)."""
    text = (support.REPO / 'conf' / name).read_text()
    module = str(support.MODULE)
    if name == 'apwsgi.load':
        text = text.replace('/usr/lib/apache2/modules/mod_apwsgi.so', module)
        module = None
    text = text.replace('@REPO@', str(support.REPO))
    config_test(text, module=module)
