# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the apwsgi test suite.

Paths, the session server's configuration, error-log windows, bounded
polling and raw-socket requests.  Nothing here sleeps for a fixed time to
wait for readiness: every wait polls a condition until a deadline.  The
life of servers and the log check are tests/harness.py's.
"""

import functools
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import tempfile
import time

import requests

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
APPS = TESTS / 'apps'
SCRIPTS = APPS / 'scripts'
USERS = APPS / 'users'

MODULE = pathlib.Path(os.environ.get('APWSGI_MODULE')
                      or REPO / 'build' / 'mod_apwsgi.so').resolve()
MPM = os.environ.get('APWSGI_MPM', 'event')
if MPM not in ('event', 'worker', 'prefork'):
    raise RuntimeError('APWSGI_MPM must be event, worker or prefork, not %r'
                       % MPM)
# Threaded MPMs: one process so that in-process state is deterministic.
# Prefork: several processes, so tests that need one process must keep one
# connection (requests.Session) to stay on it.
PROCESSES = 3 if MPM == 'prefork' else 1
THREADS = 1 if MPM == 'prefork' else 25

TIMEOUT = 10        # seconds: bound of every single HTTP request
POLL = 0.02         # seconds between two looks at a polled condition

TAG_RE = re.compile(r'\b(APW\d{5}):')
LEVEL_RE = re.compile(r'\[(?:[\w.-]*):(emerg|alert|crit|error)\]')
PID_RE = re.compile(r'\[pid (\d+)')

# Environment for every Apache we start: the runner's PYTHONPATH (the
# Makefile sets it for the tooling) and PYTHONHOME must not leak into it.
APACHE_ENV = {'PYTHONPATH': None, 'PYTHONHOME': None}


def tooling_env(extra=None):
    """Environment for running the tooling (python -m apwsgi) from this
    checkout."""
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO / 'python')
    env.pop('PYTHONHOME', None)
    env.update(extra or {})
    return env


class Client(requests.Session):
    """requests.Session whose every request is bounded by TIMEOUT."""

    def request(self, method, url, **kw):
        kw.setdefault('timeout', TIMEOUT)
        return super().request(method, url, **kw)


def read_until_close(sock, max_bytes=256 * 1024 * 1024):
    """What sock receives until the peer closes or resets it (bounded by
    the socket's timeout per read and by max_bytes) -> bytes."""
    data = bytearray()
    while len(data) < max_bytes:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def raw_request(server, request, max_bytes=256 * 1024 * 1024):
    """Send raw request bytes on a new connection; read until the server
    closes it (bounded by TIMEOUT per read and max_bytes); -> bytes."""
    import socket
    with socket.create_connection((server.host, server.port),
                                  timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return read_until_close(sock, max_bytes)


def raw_get(server, path, method='GET'):
    """(status line, header bytes, body bytes) of one request on its own
    connection; the body is as sent (chunk framing included)."""
    data = raw_request(server, b'%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                               b'Connection: close\r\n\r\n'
                       % (method.encode(), path.encode()))
    head, _, body = data.partition(b'\r\n\r\n')
    status, _, headers = head.partition(b'\r\n')
    return status, headers, body


def free_port():
    """A loopback TCP port nothing listens on right now."""
    from apwsgi.apache import find_free_port
    return find_free_port('127.0.0.1')


def token():
    """A fresh value that no other test (or earlier run) used."""
    return secrets.token_hex(6)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern_block():
    """The 64 KiB block response_app's /large sends, repeated."""
    return bytes(range(256)) * 256


def wait_for(predicate, timeout=10.0, what='condition'):
    """Poll predicate() until it returns a true value; return that value.

    Raises AssertionError naming `what` when timeout seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s'
                                 % (timeout, what))
        time.sleep(POLL)


def wait_file(path, timeout=10.0, contains=None):
    """Wait until path exists (and holds `contains`); return its text."""
    path = pathlib.Path(path)

    def ready():
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        if contains is not None and contains not in text:
            return None
        return text or ' '
    return wait_for(ready, timeout, 'file %s%s' % (
        path, '' if contains is None else ' to contain %r' % contains))


class LogWindow:
    """The part of one server's error log written since the window opened."""

    def __init__(self, server, mark=None):
        self.server = server
        self.mark = server.log_mark() if mark is None else mark

    def text(self):
        return self.server.log_since(self.mark)

    def lines(self, *needles):
        """Lines of the window that contain every needle."""
        return [line for line in self.text().splitlines()
                if all(n in line for n in needles)]

    def tagged(self, tag, *needles):
        """Lines whose message starts with `tag` and contain the needles."""
        return [line for line in self.lines(*needles)
                if re.search(r'\b%s:' % re.escape(tag), line)]

    def wait(self, *needles, tag=None, timeout=10.0):
        """Wait until a line with tag and needles is logged; return lines."""
        def found():
            if tag is None:
                return self.lines(*needles)
            return self.tagged(tag, *needles)
        what = 'error-log line with %s %r in %s' % (
            tag or '', needles, self.server.error_log)
        try:
            return wait_for(found, timeout, what)
        except AssertionError as exc:
            raise AssertionError('%s\n--- log window:\n%s'
                                 % (exc, self.text()[-6000:])) from None

    def error_tags(self):
        """APW tags logged at error level or worse in this window."""
        tags = set()
        for line in self.text().splitlines():
            tag = TAG_RE.search(line)
            if tag and LEVEL_RE.search(line):
                tags.add(tag.group(1))
        return tags


def rss(pid):
    """Resident set size of process `pid` in bytes (VmRSS of
    /proc/PID/status)."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS for pid %d' % pid)


def log_pid(line):
    """The pid that wrote an error-log line (default ErrorLogFormat)."""
    match = PID_RE.search(line)
    return int(match.group(1)) if match else None


def module_python():
    """(version 'X.Y', prefix) of the libpython the module links.

    Read from the dynamic linker's resolution of the module's libpython, so
    it is the Python the module was built against, whatever PATH says.
    """
    out = subprocess.run(['ldd', str(MODULE)], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r'libpython(\d+\.\d+)\S*\s+=>\s+(\S+)', out)
    if not match:
        raise RuntimeError('no libpython in ldd %s:\n%s' % (MODULE, out))
    version, lib = match.group(1), os.path.realpath(match.group(2))
    libdir = os.path.dirname(lib)
    if libdir.startswith(('/usr/lib', '/lib')):
        return version, '/usr'
    return version, os.path.dirname(libdir)


def other_python(version, prefix):
    """A python3 binary from another install than (version, prefix).

    Prefers the same X.Y from another prefix (the trap in which an embedded
    Python loads a mismatched standard library), else any other install.
    """
    candidates = []
    pyenv_root = pathlib.Path(os.environ.get('PYENV_ROOT',
                                             pathlib.Path.home() / '.pyenv'))
    for exe in sorted(pyenv_root.glob('versions/3.*/bin/python3.*')):
        if re.fullmatch(r'python3\.\d+', exe.name):
            candidates.append(exe)
    for exe in sorted(pathlib.Path('/usr/bin').glob('python3.*')):
        if re.fullmatch(r'python3\.\d+', exe.name):
            candidates.append(exe)
    others = [c for c in candidates
              if not str(c.resolve()).startswith(prefix.rstrip('/') + '/')]
    same = [c for c in others if c.name == 'python' + version]
    for pick in same + others:
        if pick.is_file():
            return pick
    return None


# ---- Debian's mod_python in the same Apache ----

SYSTEM_PYTHON = '/usr/bin/python3.11'
MOD_PYTHON = pathlib.Path('/usr/lib/apache2/modules/mod_python.so')
PYTHON_LOAD = pathlib.Path('/etc/apache2/mods-available/python.load')
# Apache's PATH beside mod_python: Debian's directories only (no pyenv
# shim, no venv), or mod_python's Python does not find its own package.
SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin'


def system_module():
    """Path of apwsgi built against the system Python, the one Debian's
    mod_python (libapache2-mod-python) links; built here with `make
    PYTHON=/usr/bin/python3.11 BUILDDIR=build/py-system` (a no-op when up
    to date) unless APWSGI_SYSTEM_MODULE names one.  Skips the test,
    saying why, when mod_python or the system Python's headers are
    missing."""
    import pytest

    given = os.environ.get('APWSGI_SYSTEM_MODULE')
    if given:
        return pathlib.Path(given)
    if not MOD_PYTHON.is_file() or not PYTHON_LOAD.is_file():
        pytest.skip('Debian\'s mod_python is not installed '
                    '(apt-get install libapache2-mod-python)')
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip('%s is missing (apt-get install python3.11)'
                    % SYSTEM_PYTHON)
    if not pathlib.Path('/usr/include/python3.11/Python.h').is_file():
        pytest.skip('the system Python\'s headers are missing '
                    '(apt-get install python3-dev)')
    build = subprocess.run(
        ['make', '--no-print-directory', 'PYTHON=' + SYSTEM_PYTHON,
         'BUILDDIR=build/py-system', 'all'], cwd=REPO,
        capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    return REPO / 'build' / 'py-system' / 'mod_apwsgi.so'


# ---- the session server's configuration ----

def location(path, app=None, *, interpreter=None, directory=APPS,
             extra='', match=False):
    """One <Location> (or <LocationMatch>) block mounting a test app."""
    lines = ['<%s "%s">' % ('LocationMatch' if match else 'Location', path),
             '    SetHandler mod_wsgi']
    if app is not None:
        lines.append('    SetEnv mod_wsgi.application "%s"' % app)
    if directory is not None:
        lines.append('    SetEnv mod_wsgi.directory "%s"' % directory)
    if interpreter is not None:
        lines.append('    SetEnv mod_wsgi.interpreter "%s"' % interpreter)
    for line in extra.strip().splitlines():
        lines.append('    ' + line.strip())
    lines.append('</%s>' % ('LocationMatch' if match else 'Location'))
    return '\n'.join(lines)


MALFORMED_APPLICATIONS = {
    'malformed1': '::application',
    'malformed2': 'environ_app::',
    'malformed3': 'relative/dir/app.wsgi',
}


def session_config(state):
    """Apache directives for the session server: every test app mounted.

    state is the server's state directory (world-writable), where apps
    record what tests poll for and where the fixable app lives.
    """
    fixable = pathlib.Path(state) / 'fixable'
    blocks = [
        '# Where apps write what the tests read back.',
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        '',
        '# Per-user interpreters chosen by mod_rewrite.',
        'RewriteEngine On',
        'RewriteRule ^/~([a-z0-9_]+)/ - [E=mod_wsgi.interpreter:user-$1,'
        'E=mod_wsgi.directory:%s/$1/wsgi]' % USERS,
        'RewriteRule ^/sn/rw/([a-z]+)/ - [E=mod_wsgi.script_name:/sn/rw/$1]',
        location('^/~[a-z0-9_]+/', 'userapp', directory=None, match=True),
        '',
        '# handler selection: keys without SetHandler are ignored',
        '<Location /declined>',
        '    SetEnv mod_wsgi.application environ_app',
        '    SetEnv mod_wsgi.directory "%s"' % APPS,
        '</Location>',
        '<Directory "%s">' % (pathlib.Path(state).parent / 'htdocs' /
                              'dirapp'),
        '    SetHandler mod_wsgi',
        '    SetEnv mod_wsgi.application environ_app',
        '    SetEnv mod_wsgi.directory "%s"' % APPS,
        '</Directory>',
        '',
        '# environ',
        location('/env', 'environ_app', extra='''
            SetEnv APWSGI_SETENV "set by SetEnv"
            SetEnvIf X-Apwsgi-Select ^yes$ APWSGI_SELECTED=chosen'''),
        location('/env-named', 'environ_app', interpreter='envtest'),
        location('/env-auth', 'environ_app', extra='CGIPassAuth On'),
        location('/env-path', 'environ_app',
                 extra='SetEnv PATH /apwsgi-test/bin'),
        '',
        '# SCRIPT_NAME / PATH_INFO',
        location('/sn/app', 'environ_app'),
        location('/sn/app/inner', 'environ_app'),
        location('/sn/slash/', 'environ_app'),
        location('/sn/over', 'environ_app',
                 extra='SetEnv mod_wsgi.script_name /sn'),
        location('/sn/bad', 'environ_app',
                 extra='SetEnv mod_wsgi.script_name /elsewhere'),
        location('^/sn/re/', 'environ_app', match=True),
        location('^/sn/re2/', 'environ_app', match=True,
                 extra='SetEnv mod_wsgi.script_name /sn/re2'),
        location('^/sn/rw/', 'environ_app', match=True),
        '',
        '# wsgi.input',
        location('/input', 'input_app'),
        location('/input-limited', 'input_app', extra='LimitRequestBody 1000'),
        '',
        '# responses, errors, close()',
        location('/response', 'response_app'),
        location('/response-named', 'response_app', interpreter='resp'),
        location('/errors', 'errors_app'),
        location('/errors-named', 'errors_app', interpreter='errs'),
        location('/close', 'close_app'),
        '',
        '# configuration errors',
        location('/err/noapp'),
        *(location('/err/' + name, value)
          for name, value in MALFORMED_APPLICATIONS.items()),
        location('/err/nocallable', 'errors_app::no_such_callable'),
        location('/err/notcallable', 'errors_app::NOT_CALLABLE'),
        location('/err/noimport', 'apwsgi_no_such_module_xyz'),
        location('/err/import-raises', 'import_raises'),
        location('/err/reldir', 'environ_app', directory='relative/dir'),
        location('/err/script-missing', str(SCRIPTS / 'missing.wsgi')),
        location('/err/script-syntax', str(SCRIPTS / 'syntax_error.wsgi')),
        location('/err/fixable', 'fixable_app', directory=fixable,
                 interpreter='fixable'),
        location('/conflict/a', 'dupmod', directory=APPS / 'dup_a',
                 interpreter='conflict'),
        location('/conflict/b', 'dupmod', directory=APPS / 'dup_b',
                 interpreter='conflict'),
        '',
        '# script files: same basename in two directories',
        location('/script/one', str(SCRIPTS / 'one' / 'app.wsgi'),
                 directory=None),
        location('/script/two', str(SCRIPTS / 'two' / 'app.wsgi'),
                 directory=None),
        location('/script/one-alt',
                 str(SCRIPTS / 'one' / 'app.wsgi') + '::alternative',
                 directory=None),
        location('/script/py', str(SCRIPTS / 'plain.py'), directory=None,
                 interpreter='scripts'),
        '',
        '# interpreters',
        location('/interp/main', 'state_app'),
        location('/interp/empty', 'state_app', interpreter=''),
        location('/interp/a', 'state_app', interpreter='alpha'),
        location('/interp/a2', 'state_app', interpreter='alpha'),
        location('/interp/b', 'state_app', interpreter='beta'),
        # The keys' names in other cases, as Apache's tables take them.
        location('/interp/keycase', None, directory=None, extra='''
            SetEnv MOD_WSGI.APPLICATION state_app
            SetEnv Mod_Wsgi.Directory "%s"
            SetEnv mod_wsgi.INTERPRETER beta''' % APPS),
        '',
        '# logging',
        location('/log', 'logging_app'),
        location('/log-named', 'logging_app', interpreter='logtest'),
        '',
        '# wsgiref.validate',
        *(location('/valid/' + name, 'validated_app::' + name)
          for name in VALIDATED),
        location('/valid-named/simple', 'validated_app::simple',
                 interpreter='validated'),
        location('/valid-named/post', 'validated_app::post',
                 interpreter='validated'),
        '',
        '# Flask',
        location('/flask', 'flask_app::app'),
        location('/flask-named', 'flask_app::app', interpreter='flask'),
    ]
    if os.environ.get('APWSGI_TEST_COREDUMPS'):
        # Debugging aid: with `ulimit -c unlimited`, crashed children leave
        # a core file in the state directory (kept: see harness.py).
        blocks.append('CoreDumpDirectory "%s"' % state)
    return '\n'.join(blocks) + '\n'


VALIDATED = ('simple', 'stream', 'post', 'write', 'file', 'errors', 'lines',
             'exc_info')


def prepare_state(state):
    """Create what the session config expects under the state dir (and
    the server root's htdocs/dirapp for the <Directory> mount)."""
    dirapp = pathlib.Path(state).parent / 'htdocs' / 'dirapp'
    dirapp.mkdir(parents=True, exist_ok=True)
    dirapp.chmod(0o755)
    fixable = pathlib.Path(state) / 'fixable'
    fixable.mkdir(exist_ok=True)
    fixable.chmod(0o1777)
    write_world_readable(
        fixable / 'fixable_app.py',
        "raise ImportError('apwsgi-test: broken on purpose')\n")


def write_world_readable(path, text):
    path = pathlib.Path(path)
    tmp = path.with_name('.' + path.name + '.tmp')
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def scratch_dir(prefix='apwsgi-test-'):
    """A new directory under /tmp that Apache's user can traverse (mode
    755); pytest's tmp_path is not readable by www-data."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


# ---- helpers of the interpreter tests ----

@functools.lru_cache(maxsize=None)
def module_python_version():
    """(major, minor) of the Python the module under test embeds."""
    version, _ = module_python()
    return tuple(int(part) for part in version.split('.'))


def own_gil_supported():
    """Whether the module's Python gives interpreters a GIL of their own
    (PEP 684: 3.12 and newer)."""
    return module_python_version() >= (3, 12)


def start_interp_server(make_server, *blocks, threads=None,
                        concurrent=False, modules=()):
    """One process serving `blocks`, with APWSGI_TEST_STATE set; the event
    MPM where the test needs concurrent requests, else the run's MPM."""
    def config(state):
        return '\n'.join(['SetEnv APWSGI_TEST_STATE "%s"' % state,
                          *blocks]) + '\n'
    return make_server(config, mpm='event' if concurrent else MPM,
                       processes=1, threads=threads, modules=modules)


def get_json(client, srv, path, status=200):
    """GET path; assert the status; the JSON body (or the response)."""
    r = client.get(srv.url(path))
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    return r.json() if status == 200 else r
