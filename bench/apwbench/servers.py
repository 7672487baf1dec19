# SPDX-License-Identifier: Apache-2.0
"""The server processes a benchmark run starts, and what it reads of them.

A bench Apache and the peer servers from the bench venv (gunicorn,
granian, uWSGI) have the same small interface: ``start()``, ``stop()``,
``url(path)``, ``child_pids()`` (the processes that serve requests, whose
RSS is reported) and ``log_problems()`` (crash and unexpected error lines
of its log, see scan_log).  Each runs in its own process group, and
``stop()`` ends that group only.
"""

import os
import pathlib
import re
import signal
import socket
import string
import subprocess
import time

from apwsgi.apache import ApacheServer, find_free_port

from . import BENCH
from .procs import children_of, schedule_like_apwsgi

TEMPLATE = BENCH / 'conf' / 'httpd.conf.in'
POLL = 0.05                 # seconds between readiness checks
START_TIMEOUT = 60          # seconds: gunicorn or Apache must serve by then

CRASH_RE = re.compile(r'exit signal|Segmentation fault|Fatal Python error|'
                      r'AddressSanitizer|WORKER TIMEOUT|was sent SIGKILL')
ERROR_RE = re.compile(r'\[[\w.-]*:(?:emerg|alert|crit|error)\]|'
                      r'\[(?:ERROR|CRITICAL)\]|Traceback')
# Error lines that a load run causes by design: an MPM with fewer workers
# (or spare threads) than wrk has connections (AH00161 and AH00484 under
# prefork, AH00286 under worker, AH10159 with one event process; the io
# scenario's 64 connections against worker's 2 x 25 threads, for one),
# and responses cut when wrk closes its connections at the end of a
# run.  Every line about a client that had such a cut is dropped with it
# (mod_wsgi logs two per cut).
EXPECTED_RE = re.compile(r'AH00161|AH00286|AH00484|AH10159')
CLIENT_GONE_RE = re.compile(r'Broken pipe|Connection reset by peer')
CLIENT_RE = re.compile(r'\[client ([\d.:\[\]a-f]+)\]')
MAX_LINES = 20


def scan_log(path):
    """{'crashes': [...], 'errors': [...], 'error_count': n} of a log.

    Crashes are always real problems; errors are error-level lines other
    than the expected ones above.  At most MAX_LINES of each are kept.
    """
    try:
        lines = path.read_text(errors='replace').splitlines()
    except FileNotFoundError:
        lines = []
    gone = {m.group(1) for line in lines if CLIENT_GONE_RE.search(line)
            for m in [CLIENT_RE.search(line)] if m}
    crashes, errors = [], []
    for line in lines:
        if CRASH_RE.search(line):
            crashes.append(line)
        elif ERROR_RE.search(line) and not EXPECTED_RE.search(line):
            client = CLIENT_RE.search(line)
            if client and client.group(1) in gone:
                continue
            if CLIENT_GONE_RE.search(line):
                continue
            errors.append(line)
    return {'crashes': crashes[:MAX_LINES], 'errors': errors[:MAX_LINES],
            'error_count': len(errors)}


class BenchApache(ApacheServer):
    """An ApacheServer whose main config comes from bench/conf/."""

    def __init__(self, module, config, *, schedule=False, **kw):
        kw.setdefault('log_level', 'notice')
        kw.setdefault('timeout', START_TIMEOUT)
        super().__init__(module, config, **kw)
        self.schedule = schedule

    def start(self):
        """Start; with schedule, place the children as apwsgi places its
        own (schedule_like_apwsgi) once all have started."""
        super().start()
        if self.schedule:
            deadline = time.monotonic() + START_TIMEOUT
            pids = self.child_pids()
            while len(pids) < self.processes and time.monotonic() < deadline:
                time.sleep(0.05)
                pids = self.child_pids()
            schedule_like_apwsgi(pids, self.threads)
        return self

    def render_config(self):
        user_group = ''
        if os.geteuid() == 0:
            user_group = 'User www-data\nGroup www-data\n'
        return string.Template(TEMPLATE.read_text()).substitute(
            root=self.root, host=self.host, port=self.port,
            log_level=self.log_level, load_modules=self._load_modules(),
            user_group=user_group, mpm_block=self._mpm_block(),
            config=self.config)

    def log_problems(self):
        return scan_log(self.error_log)


class PeerServer:
    """A WSGI server from the bench venv serving one app module.

    Subclasses give the command line; this class runs it in its own
    process group (working directory: the apps), waits until it has its
    workers and accepts, and stops the group.
    """

    name = 'server'

    def __init__(self, executable, app_dir, app, root, *, workers=2,
                 env=None, host='127.0.0.1'):
        self.executable = str(executable)
        self.app_dir = str(app_dir)
        self.app = app          # module:callable
        self.root = pathlib.Path(root)
        self.workers = workers
        self.env = dict(env or {})
        self.host = host
        self.port = find_free_port(host)
        self.error_log = self.root / 'error.log'
        self._proc = None
        self._console = None

    def command(self):
        raise NotImplementedError

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        environ = dict(os.environ)
        for key, value in self.env.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = str(value)
        self._console = open(self.root / 'console.log', 'wb')
        self._proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._console,
            stderr=subprocess.STDOUT, env=environ, cwd=self.app_dir,
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.stop()
                raise RuntimeError('%s exited with %s during start-up; see '
                                   '%s' % (self.name, self._proc.returncode,
                                           self.root))
            if (len(children_of(self._proc.pid)) >= self.workers
                    and self._accepts()):
                return self
            time.sleep(POLL)
        self.stop()
        raise RuntimeError('%s did not serve within %ss; see %s'
                           % (self.name, START_TIMEOUT, self.root))

    def _accepts(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        """SIGTERM the leader, wait, then SIGKILL its group. Idempotent."""
        proc = self._proc
        if proc is not None:
            pgid = proc.pid     # start_new_session: it leads its group
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        if self._console is not None:
            self._console.close()
            self._console = None

    @property
    def pid(self):
        return self._proc.pid

    def url(self, path='/'):
        return 'http://%s:%d%s' % (self.host, self.port, path)

    def child_pids(self):
        return children_of(self._proc.pid)

    def log_problems(self):
        return scan_log(self.error_log)


class GunicornServer(PeerServer):
    name = 'gunicorn'

    def __init__(self, executable, app_dir, app, root, *,
                 worker_class='sync', threads=1, **kw):
        super().__init__(executable, app_dir, app, root, **kw)
        self.worker_class = worker_class
        self.threads = threads

    def command(self):
        cmd = [self.executable, '--bind', '%s:%d' % (self.host, self.port),
               '--workers', str(self.workers),
               '--worker-class', self.worker_class,
               '--chdir', self.app_dir, '--log-level', 'warning',
               '--error-logfile', str(self.error_log),
               '--pid', str(self.root / 'gunicorn.pid')]
        if self.worker_class == 'gthread':
            cmd += ['--threads', str(self.threads)]
        return cmd + [self.app]


class GranianServer(PeerServer):
    """granian's WSGI interface, its defaults otherwise (no access log,
    as for the others).  It logs to its console, its error log here."""

    name = 'granian'

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.error_log = self.root / 'console.log'

    def command(self):
        return [self.executable, '--interface', 'wsgi',
                '--host', self.host, '--port', str(self.port),
                '--workers', str(self.workers), '--no-ws',
                '--log-level', 'warning', '--working-dir', self.app_dir,
                '--pid-file', str(self.root / 'granian.pid'), self.app]


class UwsgiServer(PeerServer):
    """uWSGI (pyuwsgi): a master and single-threaded worker processes.

    --http11-socket makes each worker speak HTTP/1.1 with keep-alive
    itself, with no router process in between.  A worker then serves its
    connection until the client closes it, so connections beyond the
    worker count wait in the accept queue (the report counts them).
    """

    name = 'uwsgi'

    def command(self):
        module, callable_ = self.app.split(':')
        return [self.executable,
                '--http11-socket', '%s:%d' % (self.host, self.port),
                '--master', '--processes', str(self.workers),
                '--threads', '1', '--chdir', self.app_dir,
                '--wsgi-file', str(pathlib.Path(self.app_dir)
                                   / (module + '.py')),
                '--callable', callable_, '--need-app', '--die-on-term',
                '--disable-logging', '--logto', str(self.error_log),
                '--pidfile', str(self.root / 'uwsgi.pid')]
