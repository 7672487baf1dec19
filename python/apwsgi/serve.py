# SPDX-License-Identifier: Apache-2.0
"""`apwsgi serve TARGET`: run a WSGI application in a throw-away Apache.

    apwsgi serve app.py                # a script; its callable `application`
    apwsgi serve app.py::make_app      # a script and the callable's name
    apwsgi serve pkg.module::app       # imported from --directory (default .)
    python -m apwsgi serve ...         # the same

What TARGET names, a file or a module, is decided in target.py.

A complete configuration is generated from templates/serve.conf.in into a
temporary ServerRoot (removed at exit).  Apache runs in the foreground with
the event MPM, one process per core; its error log (and with --access-log
its access log) is copied to this terminal; Ctrl-C or SIGTERM stops it, and
it also stops if this process is killed (ApacheServer's death signal).
Run from a virtualenv, the venv is passed as `SetEnv mod_wsgi.virtualenv`.

`run_foreground` also runs the examples of a checkout (tools/run-examples).
"""

import grp
import os
import pathlib
import pwd
import shutil
import signal
import stat
import sys
import tempfile
import time

from . import config
from .apache import ApacheServer, port_in_use, render
from .target import TargetError, resolve

APACHE_USER = 'www-data'   # what ApacheServer's config runs children as
FOLLOW_POLL = 0.1          # seconds between two looks at the log files
# Reloading works in named interpreters only: --reload without
# --interpreter runs the application in this one.
RELOAD_INTERPRETER = 'app'


class UsageError(Exception):
    """A problem with the command line; str() is the message."""


class Stop(Exception):
    """Raised from the SIGTERM/SIGHUP handler to leave the serving loop."""


# ---- the command line, turned into mod_wsgi.* keys ----

def default_processes():
    """One Apache child per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_static(spec):
    """--static URL=DIR -> (url, absolute dir), both without trailing /."""
    url, sep, directory = spec.partition('=')
    url = url.rstrip('/')
    if not sep or not url.startswith('/') or not directory:
        raise UsageError('--static %s: expected URL=DIR with URL starting '
                         'with / (and not / itself)' % spec)
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise UsageError('--static %s: %s is not a directory'
                         % (spec, directory))
    return url, directory.rstrip('/') or '/'


def settings(application, directory, args, venv):
    """The mod_wsgi.* keys for the application, in order."""
    keys = [('mod_wsgi.application', application),
            ('mod_wsgi.directory', directory)]
    interpreter = args.interpreter
    if args.reload and not interpreter:
        interpreter = RELOAD_INTERPRETER
    if interpreter:
        keys.append(('mod_wsgi.interpreter', interpreter))
    if args.reload:
        keys.append(('mod_wsgi.reload', 'on'))
    if venv:
        keys.append(('mod_wsgi.virtualenv', venv))
    # The application owns every URL but the --static ones (SetHandler
    # none keeps Apache's walk for them): no <Directory> to merge.
    keys.append(('mod_wsgi.map_to_storage', 'off'))
    return keys


def render_serve_config(target, keys, statics):
    """The directives appended to the generated httpd.conf."""
    lines = ['    SetEnv %s %s' % (key, config.apache_quote(value))
             for key, value in keys]
    static = '\n'.join(render('static.conf.in', url=url, directory=d)
                       for url, d in statics)
    return render('serve.conf.in', target=target, settings='\n'.join(lines),
                  static=static)


# ---- checks that turn a 500 or a dead child into a clear message ----

def _readable_by(path, uid, gids):
    """Whether uid (with groups gids) can reach and read path (mode bits;
    ACLs are not looked at)."""
    path = pathlib.Path(path)
    chain = list(reversed(path.parents)) + [path]
    for item in chain:
        try:
            st = item.stat()
        except OSError:
            return False
        need = stat.S_IXOTH
        if item == path:
            need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode)
                                   else 0)
        if st.st_uid == uid:
            need <<= 6
        elif st.st_gid in gids:
            need <<= 3
        if st.st_mode & need != need:
            return False
    return True


def apache_access_problems(paths):
    """Paths that Apache's children (www-data when we are root) cannot
    read; empty when not root or when that user does not exist."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(APACHE_USER)
    except KeyError:
        return []
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall()
                            if APACHE_USER in g.gr_mem}
    return [p for p in paths if not _readable_by(p, user.pw_uid, gids)]


def check_virtualenv(module, venv):
    """Refuse a venv of another Python X.Y than the module embeds."""
    embedded = config.module_python(module)
    if venv and embedded and embedded != config.this_python():
        raise UsageError(
            'this virtualenv (%s) is Python %s, but %s embeds Python %s, '
            'which cannot use its packages: pip install apwsgi into this '
            'venv (the module is then built for its Python), run from a '
            'Python %s venv, or pass --module' % (
                venv, config.this_python(), module, embedded, embedded))


# ---- running Apache in the foreground ----

class LogFollower:
    """Copy what is appended to some files to a stream."""

    def __init__(self, paths, stream):
        self.paths = list(paths)
        self.stream = stream
        self.offsets = {}
        for path in self.paths:
            try:
                self.offsets[path] = path.stat().st_size
            except FileNotFoundError:
                self.offsets[path] = 0

    def poll(self):
        """Copy new text of every file; return whether there was any."""
        copied = False
        for path in self.paths:
            try:
                with open(path, 'rb') as f:
                    f.seek(self.offsets[path])
                    data = f.read()
            except FileNotFoundError:
                continue
            if data:
                self.offsets[path] += len(data)
                self.stream.write(data.decode('utf-8', errors='replace'))
                copied = True
        if copied:
            self.stream.flush()
        return copied


def _on_stop_signal(signum, frame):
    raise Stop()


def run_foreground(server, on_ready, follow):
    """Start server, call on_ready(), copy its logs until Ctrl-C, SIGTERM
    or SIGHUP (exit status 0) or until httpd exits by itself (1)."""
    follower = LogFollower(follow, sys.stdout)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_stop_signal)
    # Ctrl-C stops the server even when SIGINT was inherited as ignored
    # (a shell's background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        follower.poll()
        on_ready()
        while server.running:
            if not follower.poll():
                time.sleep(FOLLOW_POLL)
        follower.poll()
        print('apwsgi: httpd exited by itself; see the log above',
              file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print('apwsgi: could not start Apache:\n%s' % exc, file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print('\napwsgi: stopping Apache ...', flush=True)
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stop short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        server.stop()
        follower.poll()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def describe(keys):
    names = dict(keys)
    interp = names.get('mod_wsgi.interpreter')
    return '%s (%s)' % (names['mod_wsgi.application'],
                        'interpreter %r' % interp if interp
                        else 'main interpreter')


def build_server(args):
    """(ApacheServer, mod_wsgi keys) for the command line; UsageError or
    config.ModuleNotFound when it cannot be served."""
    module = config.find_module(args.module)
    venv = config.running_venv()
    check_virtualenv(module, venv)
    directory = args.directory and os.path.abspath(args.directory)
    if directory and not os.path.isdir(directory):
        raise UsageError('--directory %s is not a directory' % directory)
    # This Python's path is the application's only when the module
    # embeds this very installation (a venv of it included), and less
    # its first entry, this command's own location (or the current
    # directory under -m), which Apache's Python does not have.
    search_path = None
    if config.embeds_this_python(module):
        search_path = sys.path[0 if sys.flags.safe_path else 1:]
    application, directory = resolve(args.target, directory, search_path)
    statics = [parse_static(spec) for spec in args.static]
    keys = settings(application, directory, args, venv)
    script = application.partition('::')[0]
    paths = [module, directory] + [d for _, d in statics]
    if script.startswith('/'):
        paths.append(script)
    if venv:
        paths.append(venv)
    for path in apache_access_problems(paths):
        print('apwsgi: warning: Apache runs its children as %s, which '
              'cannot read %s (chmod o+rx it, o+x its parents)'
              % (APACHE_USER, path), file=sys.stderr)
    root = args.server_root or tempfile.mkdtemp(prefix='apwsgi-serve-')
    server = ApacheServer(
        module, render_serve_config(args.target, keys, statics),
        mpm=args.mpm, processes=args.processes, threads=args.threads,
        host=args.host, port=args.port, log_level=args.log_level, root=root,
        env={'PYTHONPATH': None, 'PYTHONHOME': None},
        timeout=args.startup_timeout)
    return server, keys


def serve(args):
    try:
        server, keys = build_server(args)
    except (UsageError, TargetError, config.ModuleNotFound) as exc:
        print('apwsgi serve: %s' % exc, file=sys.stderr)
        return 2
    try:
        if args.show_config:
            print(server.render_config())
            return 0
        if port_in_use(args.host, args.port):
            print('apwsgi serve: %s:%d is already in use; choose another '
                  'port with --port' % (args.host, args.port),
                  file=sys.stderr)
            return 1
        size = '%d process%s' % (args.processes,
                                 '' if args.processes == 1 else 'es')
        if args.mpm != 'prefork':
            size += ' x %d threads' % args.threads
        print('apwsgi: starting Apache (%s MPM, %s) on %s ...'
              % (args.mpm, size, server.url('/')), flush=True)
        follow = [server.error_log]
        if args.access_log:
            follow.append(server.root / 'logs' / 'access.log')

        def ready():
            print('apwsgi: serving %s on %s  (Apache pid %d, ServerRoot '
                  '%s); Ctrl-C stops' % (describe(keys), server.url('/'),
                                         server.pid, server.root),
                  flush=True)
        return run_foreground(server, ready, follow)
    finally:
        if not args.server_root:
            shutil.rmtree(server.root, ignore_errors=True)


def add_arguments(parser):
    """The options of `apwsgi serve` (cli.py builds the parser)."""
    parser.add_argument('target', metavar='TARGET',
                        help='a script file (path/app.py[::callable], '
                             'callable "application" by default) or '
                             'module::callable (also module:callable); an '
                             'existing file wins')
    parser.add_argument('--port', type=int, default=8000,
                        help='TCP port (default 8000)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1; '
                             '0.0.0.0 for every interface)')
    parser.add_argument('--processes', type=int, default=default_processes(),
                        help='Apache child processes (default: one per '
                             'core, here %(default)s)')
    parser.add_argument('--threads', type=int, default=25,
                        help='threads per process (default 25; not for '
                             'prefork)')
    parser.add_argument('--mpm', default='event',
                        choices=('event', 'worker', 'prefork'),
                        help='Apache MPM (default event)')
    parser.add_argument('--interpreter', metavar='NAME',
                        help='run the application in this named '
                             'sub-interpreter (default: the main one)')
    parser.add_argument('--directory', metavar='DIR',
                        help="put DIR first on sys.path (default: the "
                             "script's directory, or the current one)")
    parser.add_argument('--reload', action='store_true',
                        help='reload the application when its files change '
                             '(SetEnv mod_wsgi.reload on; in interpreter '
                             '%r unless --interpreter)' % RELOAD_INTERPRETER)
    parser.add_argument('--static', metavar='URL=DIR', action='append',
                        default=[], help='serve the files of DIR at URL '
                                         'with Apache itself (repeatable)')
    parser.add_argument('--access-log', action='store_true',
                        help='show the access log too')
    parser.add_argument('--log-level', default='info',
                        help="Apache's LogLevel (default info)")
    parser.add_argument('--module', metavar='PATH',
                        help='mod_apwsgi.so to load (default: '
                             '$APWSGI_MODULE, else the one pip installed)')
    parser.add_argument('--server-root', metavar='DIR',
                        help='keep the generated ServerRoot here (default: '
                             'a temporary directory, removed at exit)')
    parser.add_argument('--startup-timeout', type=float, default=30,
                        help='seconds to wait for Apache to accept '
                             'connections (default 30)')
    parser.add_argument('--show-config', action='store_true',
                        help='print the generated httpd.conf and exit')
