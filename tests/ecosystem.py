"""Helpers for the ecosystem tests (issue 6): `apwsgi serve` subprocesses,
servers of a test module's own, world-readable scratch directories and
virtual environments.

Servers started here are not the conftest fixtures' servers: the
after-test check in conftest does not see them.  `own_server` does its own
check when it stops one (crash lines, and error-level APW tags other than
the allowed ones), so that tests of behaviour the C side has not delivered
yet (marked xfail) do not trip over log tags nobody has numbered yet.
APWSGI_KEEP_ROOTS=1 keeps their ServerRoots (logs) for a look afterwards.
"""

import contextlib
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import support
from apwsgi.apache import ApacheServer, live_pids

REPO = support.REPO
SERVING_RE = re.compile(r'apwsgi: serving .* \(Apache pid (\d+), '
                        r'ServerRoot (\S+)\)')
STOP_TIMEOUT = 30  # seconds for a launcher to stop Apache and exit


def scratch_dir(prefix):
    """A new directory under /tmp that Apache's user can read (mode 755);
    pytest's tmp_path is not readable by www-data."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def make_readable(root):
    """chmod a+rX everything under root (files written with umask 077)."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))


def module_python_exe():
    """The python3.X binary of the installation the module embeds."""
    version, prefix = support.module_python()
    exe = pathlib.Path(prefix) / 'bin' / ('python' + version)
    return exe if exe.is_file() else None


def python_of_other_version():
    """A python3.Y (Y != the module's) from pyenv or /usr/bin, or None."""
    version, _ = support.module_python()
    found = []
    root = pathlib.Path(os.environ.get('PYENV_ROOT',
                                       pathlib.Path.home() / '.pyenv'))
    found += sorted(root.glob('versions/3.1[1-9].*/bin/python3.1[1-9]'))
    found += sorted(pathlib.Path('/usr/bin').glob('python3.1[1-9]'))
    for exe in found:
        if re.fullmatch(r'python3\.\d+', exe.name) and \
                exe.name != 'python' + version and exe.is_file():
            return exe
    return None


def make_venv(python, parent, name='venv', pip=False, system_site=False):
    """Create a virtual environment with python under parent; -> path."""
    venv = pathlib.Path(parent) / name
    args = [str(python), '-m', 'venv', str(venv)]
    if not pip:
        args.insert(3, '--without-pip')
    if system_site:
        args.insert(3, '--system-site-packages')
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    make_readable(venv)
    return venv


def venv_site_packages(venv):
    found = sorted(pathlib.Path(venv).glob('lib/python3.*/site-packages'))
    assert len(found) == 1, found
    return found[0]


# ---- servers of the test's own ----

def log_problems(server, allowed=()):
    window = support.LogWindow(server, 0)
    problems = []
    crashes = window.crash_lines()
    if crashes:
        problems.append('crash in %s:\n  %s' % (server.error_log,
                                               '\n  '.join(crashes[:20])))
    unexpected = window.error_tags() - set(allowed)
    if unexpected:
        problems.append('unexpected error tags %s in %s'
                        % (sorted(unexpected), server.error_log))
    return problems


@contextlib.contextmanager
def own_server(config, *, module=None, allowed=(), check_tags=True,
               **kw):
    """An ApacheServer with mod_apwsgi for the with-block; at the end it
    is stopped, its processes must be gone, and its log is checked."""
    kw.setdefault('mpm', support.MPM)
    kw.setdefault('processes', support.PROCESSES)
    kw.setdefault('threads', support.THREADS)
    env = dict(support.APACHE_ENV)
    env.update(kw.pop('env', {}))
    root = scratch_dir('apwsgi-eco-')
    server = ApacheServer(str(module or support.MODULE), config, root=root,
                          env=env, **kw)
    try:
        server.start()
        yield server
    finally:
        pgid = server.pid if server.running else None
        server.stop()
        problems = log_problems(server, allowed) if check_tags else [
            p for p in log_problems(server, allowed) if p.startswith('crash')]
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, 0)
                os.killpg(pgid, signal.SIGKILL)
                problems.append('processes of %r outlived stop()' % server)
        if not problems and not os.environ.get('APWSGI_KEEP_ROOTS'):
            shutil.rmtree(root, ignore_errors=True)
    assert not problems, '\n'.join(problems)


# ---- `apwsgi serve` in a subprocess ----

def tooling_env(extra=None):
    """Environment for running the tooling from this checkout."""
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO / 'python')
    env.pop('PYTHONHOME', None)
    env.update(extra or {})
    return env


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != 'Z'


class Launcher:
    """`python -m apwsgi serve ARGS` in a subprocess, its output collected
    line by line (stdout and stderr together)."""

    def __init__(self, args, *, python=None, cwd=None, env=None):
        self.args = [str(python or sys.executable), '-m', 'apwsgi', 'serve',
                     *map(str, args)]
        self.proc = subprocess.Popen(
            self.args, cwd=cwd, env=env or tooling_env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors='replace')
        self.lines = []
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.apache_pid = None
        self.root = None

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def output(self):
        return '\n'.join(self.lines)

    def wait_line(self, pattern, timeout=30):
        """Wait for an output line matching pattern; -> the match."""
        regex = re.compile(pattern)
        for line in self.lines:
            match = regex.search(line)
            if match:
                return match
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            match = regex.search(line)
            if match:
                return match
        raise AssertionError('no line matching %r within %ss; output:\n%s'
                             % (pattern, timeout, self.output()))

    def wait_serving(self, timeout=40):
        match = self.wait_line(SERVING_RE.pattern, timeout)
        self.apache_pid = int(match.group(1))
        self.root = pathlib.Path(match.group(2))
        return self

    def url(self, port, path='/'):
        return 'http://127.0.0.1:%d%s' % (port, path)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError('launcher still running after %ss:\n%s'
                                 % (timeout, self.output())) from None

    def stop(self, signum=signal.SIGINT):
        """Send signum and wait for the launcher to exit; -> status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        status = self.wait_exit()
        self._reader.join(5)
        return status

    def cleanup(self):
        """Whatever happened, leave no process or directory behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.apache_pid and pid_alive(self.apache_pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.apache_pid, signal.SIGKILL)
        if self.root and self.root.name.startswith('apwsgi-serve-'):
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def wait_gone(pid, timeout=20):
    support.wait_for(lambda: not pid_alive(pid), timeout,
                     'process %d to exit' % pid)


def group_pids(pgid):
    """Live (non-zombie) pids of process group pgid, from /proc."""
    return live_pids(pgid=pgid)
