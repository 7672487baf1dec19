# SPDX-License-Identifier: Apache-2.0
"""Start and stop a throw-away Apache httpd with a generated configuration.

Used by `apwsgi serve`, by the test suite (one server per fixture) and
by `make run`.  The generated config is self-contained: it reads nothing
under /etc/apache2 except module files, so it works without Debian's
envvars and never touches the system server.
"""

import ctypes
import os
import pathlib
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time

TEMPLATES = pathlib.Path(__file__).resolve().parent / 'templates'

# Modules every generated server loads; mpm_<mpm> is added in front.
BASE_MODULES = ('authz_core', 'authz_host', 'env', 'setenvif', 'rewrite',
                'alias', 'dir', 'mime', 'headers')
MPMS = ('event', 'worker', 'prefork')
DEBIAN_MODS = pathlib.Path('/etc/apache2/mods-available')
POLL = 0.05  # seconds between readiness checks


# Where find_free_port looks first: below the kernel's ephemeral range.
PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range'
LOWEST_PORT = 10000
PORT_TRIES = 200


def _ephemeral_low():
    """The lowest port the kernel gives outgoing connections, or None."""
    try:
        with open(PORT_RANGE_FILE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_in_use(host, port):
    """Whether binding TCP port on host fails, as Apache's bind would
    (SO_REUSEADDR: a port left in TIME_WAIT counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def find_free_port(host='127.0.0.1'):
    """Return a TCP port on host that nothing listens on right now.

    It is taken from below the kernel's ephemeral range (Linux:
    net.ipv4.ip_local_port_range), at random: a port from inside that
    range can be taken as the source port of an outgoing connection (a
    readiness probe, a proxy's connection to a backend) between this call
    and the server's bind, which then fails with EADDRINUSE.  Where the
    range leaves no room below it, or no port there is free, the kernel
    chooses.
    """
    low = _ephemeral_low()
    if low is not None and low > LOWEST_PORT:
        rng = random.SystemRandom()
        for _ in range(PORT_TRIES):
            port = rng.randrange(LOWEST_PORT, low)
            if not port_in_use(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def find_apache():
    """Path of the httpd binary: apache2 (Debian) or httpd, PATH first."""
    for name in ('apache2', 'httpd'):
        found = shutil.which(name)
        if found:
            return found
    for path in ('/usr/sbin/apache2', '/usr/sbin/httpd'):
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError('Apache httpd not found (apache2 or httpd); install '
                       'apache2 (Debian/Ubuntu) or httpd (Fedora/RHEL)')


_module_dir = None


def module_dir():
    """Apache's module directory: `apxs -q LIBEXECDIR`, cached."""
    global _module_dir
    if _module_dir is None:
        _module_dir = '/usr/lib/apache2/modules'
        apxs = shutil.which('apxs') or shutil.which('apxs2')
        if apxs:
            out = subprocess.run([apxs, '-q', 'LIBEXECDIR'],
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                _module_dir = out.stdout.strip()
    return _module_dir


def load_lines(name, seen=None):
    """LoadModule lines for a module named as Debian names it ('ssl').

    Debian's mods-available/<name>.load is used when present, with the
    modules its '# Depends:' line names loaded first; otherwise the line
    is derived from the conventional file name mod_<name>.so.
    """
    seen = set() if seen is None else seen
    if name in seen:
        return []
    seen.add(name)
    load_file = DEBIAN_MODS / (name + '.load')
    if not load_file.is_file():
        path = os.path.join(module_dir(), 'mod_%s.so' % name)
        return ['LoadModule %s_module %s' % (name, path)]
    lines = []
    for line in load_file.read_text().splitlines():
        line = line.strip()
        if line.startswith('# Depends:'):
            for dep in line.split(':', 1)[1].split():
                lines.extend(load_lines(dep, seen))
        elif line.startswith('LoadModule'):
            lines.append(line)
    return lines


def render(template_name, **values):
    """Fill templates/<template_name> with values (string.Template)."""
    text = (TEMPLATES / template_name).read_text()
    return string.Template(text).substitute(values)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def death_signal_preexec():
    """A preexec_fn making the kernel SIGTERM httpd when its launcher dies.

    httpd runs in a session of its own (so that a terminal's Ctrl-C reaches
    only the launcher, which then stops it cleanly), so nothing else would
    stop it if the launcher were SIGKILLed.  Linux only (prctl
    PR_SET_PDEATHSIG); None elsewhere.  The signal is sent when the
    *thread* that started httpd exits, so start servers from a thread that
    lives as long as they should.
    """
    if not sys.platform.startswith('linux'):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    launcher = os.getpid()

    def preexec():
        # Runs in the forked child before exec: no imports, no allocation
        # beyond what ctypes needs.  A launcher that died before prctl
        # took effect would never send the signal: check for that.
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != launcher:
            os.kill(os.getpid(), signal.SIGTERM)
    return preexec


def _pids_in_group(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def proc_stats():
    """(pid, fields) for each process in /proc (Linux): the fields of
    /proc/PID/stat after the command name, from the state on (state,
    ppid, pgrp, ...; proc(5) numbers them from 3)."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold ' ' or ')'.
        yield int(entry), stat[stat.rindex(')') + 2:].split()


def live_pids(ppid=None, pgid=None):
    """Sorted pids of the live (not zombie) processes whose parent is
    ppid, or whose process group is pgid, read from /proc (Linux)."""
    pids = []
    for pid, fields in proc_stats():
        if fields[0] == 'Z':
            continue
        if (ppid is not None and int(fields[1]) == ppid) or \
                (pgid is not None and int(fields[2]) == pgid):
            pids.append(pid)
    return sorted(pids)


class ApacheServer:
    """One Apache httpd process tree on a loopback port.

    ``module`` is the path to mod_apwsgi.so, or None for a server without
    it; ``config`` is appended to the generated main configuration.  With
    ``die_with_launcher`` (the default) httpd is stopped by the kernel when
    the process that started it dies, even by SIGKILL (Linux).
    """

    def __init__(self, module, config, *, mpm='event', processes=1,
                 threads=25, host='127.0.0.1', port=None, log_level='info',
                 root=None, env=None, modules=(), timeout=30,
                 die_with_launcher=True):
        if mpm not in MPMS:
            raise ValueError('mpm must be one of %s, not %r' % (MPMS, mpm))
        self.module = os.path.abspath(module) if module else None
        self.config = config or ''
        self.mpm = mpm
        self.processes = int(processes)
        self.threads = int(threads)
        self.host = host
        self.port = port if port is not None else find_free_port(host)
        self.log_level = log_level
        self.env = dict(env or {})
        self.modules = tuple(modules)
        self.timeout = timeout
        self.die_with_launcher = die_with_launcher
        self.root = self._make_root(root)
        self.conf_file = self.root / 'httpd.conf'
        self.error_log = self.root / 'logs' / 'error.log'
        self.console_log = self.root / 'logs' / 'console.log'
        self.pid_file = self.root / 'run' / 'httpd.pid'
        self.state_dir = self.root / 'state'
        self.binary = find_apache()
        self._proc = None
        self._console = None

    # ---- layout and configuration ----

    @staticmethod
    def _make_root(root):
        if root is None:
            root = tempfile.mkdtemp(prefix='apwsgi-')
        root = pathlib.Path(root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        # Children run as www-data when we are root: they must be able to
        # reach htdocs/ and write state/.
        root.chmod(0o755)
        for sub, mode in (('htdocs', 0o755), ('run', 0o755),
                          ('logs', 0o755), ('state', 0o1777)):
            path = root / sub
            path.mkdir(exist_ok=True)
            path.chmod(mode)
        return root

    def _mpm_block(self):
        if self.mpm == 'prefork':
            return render('mpm-prefork.conf.in', processes=self.processes)
        return render('mpm-threaded.conf.in', mpm=self.mpm,
                      processes=self.processes, threads=self.threads,
                      max_workers=self.processes * self.threads)

    def _load_modules(self):
        seen = set()
        lines = []
        for name in ('mpm_' + self.mpm,) + BASE_MODULES + self.modules:
            lines.extend(load_lines(name, seen))
        if self.module:
            lines.append('LoadModule apwsgi_module "%s"' % self.module)
        return '\n'.join(lines)

    def render_config(self):
        """The text of ROOT/httpd.conf."""
        user_group = ''
        if os.geteuid() == 0:
            user_group = 'User www-data\nGroup www-data\n'
        return render('httpd.conf.in', root=self.root, host=self.host,
                      port=self.port, log_level=self.log_level,
                      load_modules=self._load_modules(),
                      user_group=user_group, mpm_block=self._mpm_block(),
                      config=self.config)

    def _environ(self):
        environ = dict(os.environ)
        for key, value in self.env.items():
            if value is None:
                environ.pop(key, None)  # None means: unset it for Apache
            else:
                environ[key] = str(value)
        return environ

    # ---- lifecycle ----

    def start(self):
        """Write the config, start httpd, wait until it serves."""
        if self.running:
            return self
        self.conf_file.write_text(self.render_config())
        if self.pid_file.exists():
            self.pid_file.unlink()
        # console.log holds this start's output only.
        self._console = open(self.console_log, 'wb')
        self._proc = subprocess.Popen(
            [self.binary, '-d', str(self.root), '-f', str(self.conf_file),
             '-DFOREGROUND'],
            stdin=subprocess.DEVNULL, stdout=self._console,
            stderr=subprocess.STDOUT, env=self._environ(),
            start_new_session=True,
            preexec_fn=death_signal_preexec() if self.die_with_launcher
            else None)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._fail('httpd exited with status %d during start-up'
                           % self._proc.returncode)
            if self.pid_file.exists() and self._accepts():
                return self
            time.sleep(POLL)
        self._fail('httpd did not accept connections on %s:%d within %ss'
                   % (self.host, self.port, self.timeout))

    def _fail(self, reason):
        self.stop()
        check = subprocess.run(
            [self.binary, '-t', '-d', str(self.root), '-f',
             str(self.conf_file)],
            capture_output=True, text=True, env=self._environ())
        parts = [reason,
                 '--- apache2 -t (exit %d):' % check.returncode,
                 (check.stdout + check.stderr).strip(),
                 '--- console output:', self._tail(self.console_log),
                 '--- error log tail (%s):' % self.error_log,
                 self._tail(self.error_log)]
        raise RuntimeError('\n'.join(parts))

    @staticmethod
    def _tail(path, lines=40):
        try:
            text = path.read_text(errors='replace')
        except FileNotFoundError:
            return '(none)'
        return '\n'.join(text.splitlines()[-lines:]) or '(empty)'

    def _accepts(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _wait_accepts(self, deadline):
        while time.monotonic() < deadline:
            if self._accepts():
                return True
            time.sleep(POLL)
        return False

    def stop(self):
        """SIGTERM httpd, wait, then SIGKILL its process group. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the parent leads the group
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    pass
            # Children that outlived the parent (or a parent that would not
            # stop) are ours alone: the group was created for this server.
            if _pids_in_group(pgid):
                os.killpg(pgid, signal.SIGKILL)
                proc.wait()
                deadline = time.monotonic() + self.timeout
                while _pids_in_group(pgid) and time.monotonic() < deadline:
                    time.sleep(POLL)
        if self._console is not None:
            self._console.close()
            self._console = None

    def graceful(self):
        """Graceful restart (SIGUSR1); wait until httpd serves again.

        Best effort: waits for the "resuming normal operations" notice of
        the new generation and for a child process that did not exist
        before, then for the port to accept connections.
        """
        if not self.running:
            raise RuntimeError('httpd is not running')
        mark = self.log_mark()
        old_children = set(self.child_pids())
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._fail('httpd exited during a graceful restart')
            if ('resuming normal operations' in self.log_since(mark)
                    and set(self.child_pids()) - old_children):
                break
            time.sleep(POLL)
        if not self._wait_accepts(deadline):
            self._fail('httpd did not accept connections after a graceful '
                       'restart')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- inspection ----

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self):
        """Pid of the httpd parent process."""
        if self._proc is None:
            raise RuntimeError('httpd is not running')
        return self._proc.pid

    def url(self, path='/'):
        return 'http://%s:%d%s' % (self.host, self.port, path)

    def child_pids(self):
        """Pids of the parent's live children, read from /proc."""
        return live_pids(ppid=self.pid)

    def log_text(self):
        try:
            return self.error_log.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def log_mark(self):
        """The error log's current size, for log_since()."""
        try:
            return self.error_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark):
        """Error log text written after log_mark() returned mark."""
        try:
            with open(self.error_log, 'rb') as f:
                f.seek(mark)
                return f.read().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    def __repr__(self):
        state = 'running' if self.running else 'stopped'
        return '<ApacheServer %s %s mpm=%s root=%s>' % (
            self.url(), state, self.mpm, self.root)
