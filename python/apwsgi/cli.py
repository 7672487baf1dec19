"""Command line: ``python -m apwsgi <command>`` (PYTHONPATH=python).

    run-examples   serve examples/ with conf/examples.conf (``make run``)
    build-vars     print the build facts of this Python (the Makefile's input)
"""

import argparse
import pathlib
import signal
import sys
import time

from . import build
from .apache import ApacheServer

REPO = pathlib.Path(__file__).resolve().parents[2]

# What `make run` prints once Apache is up: path, what it shows.
EXAMPLE_URLS = (
    ('/', 'plain WSGI hello, main interpreter'),
    ('/flask/', 'Flask application, main interpreter'),
    ('/flask/api/info', 'Flask JSON endpoint'),
    ('/alpha/', 'counter in the named interpreter "alpha"'),
    ('/also-alpha/', 'same interpreter "alpha", another Location'),
    ('/beta/', 'counter in the named interpreter "beta"'),
    ('/~alice/', "alice's app, interpreter user-alice (mod_rewrite)"),
    ('/~bob/', "bob's app, interpreter user-bob (mod_rewrite)"),
)


def render_examples_conf(repo):
    """conf/examples.conf with @REPO@ replaced by the repository path."""
    text = (repo / 'conf' / 'examples.conf').read_text()
    return text.replace('@REPO@', str(repo))


class Stop(Exception):
    """Raised from the SIGTERM handler to leave the serving loop."""


def _on_sigterm(signum, frame):
    raise Stop()


def follow(server, mark):
    """Echo new error-log text until Ctrl-C/SIGTERM or httpd exits."""
    with open(server.error_log, 'rb') as log:
        log.seek(mark)
        while server.running:
            chunk = log.read()
            if chunk:
                sys.stdout.write(chunk.decode('utf-8', errors='replace'))
                sys.stdout.flush()
            else:
                time.sleep(0.2)
    print('apwsgi: httpd exited; see %s' % server.error_log, file=sys.stderr)
    return 1


def run_examples(args):
    repo = pathlib.Path(args.repo).resolve()
    module = pathlib.Path(args.module).resolve()
    if not module.is_file():
        print('apwsgi: %s does not exist; run make first' % module,
              file=sys.stderr)
        return 1
    server = ApacheServer(
        module, render_examples_conf(repo), mpm=args.mpm,
        processes=args.processes, threads=args.threads, host=args.host,
        port=args.port, log_level=args.log_level,
        root=repo / 'build' / ('examples-server-%d' % args.port))
    print('apwsgi: starting Apache (%s MPM) on %s with %s ...'
          % (args.mpm, server.url(''), module), flush=True)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C stops the server even when SIGINT was inherited as ignored
    # (a shell's background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        mark = server.log_mark()
        server.start()
        print('apwsgi: serving; try:')
        for path, what in EXAMPLE_URLS:
            print('    %-36s %s' % (server.url(path), what))
        print('apwsgi: error log %s (following it below); Ctrl-C stops.'
              % server.error_log, flush=True)
        return follow(server, mark)
    except RuntimeError as exc:
        print('apwsgi: could not start Apache:\n%s' % exc, file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print('\napwsgi: stopping Apache ...', flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def build_vars(args):
    return build.main(['vars'])


def parser():
    top = argparse.ArgumentParser(prog='python -m apwsgi',
                                  description='apwsgi developer tooling')
    commands = top.add_subparsers(dest='command', required=True)

    run = commands.add_parser('run-examples',
                              help='serve examples/ (what make run does)')
    run.add_argument('--port', type=int, default=8000)
    run.add_argument('--host', default='127.0.0.1')
    run.add_argument('--module', default=str(REPO / 'build' / 'mod_apwsgi.so'),
                     help='path to mod_apwsgi.so (default: build/)')
    run.add_argument('--mpm', default='event',
                     choices=('event', 'worker', 'prefork'))
    # One process by default, so that requests to two Locations naming
    # the same interpreter visibly share it.
    run.add_argument('--processes', type=int, default=1)
    run.add_argument('--threads', type=int, default=25)
    run.add_argument('--log-level', default='info')
    run.add_argument('--repo', default=str(REPO),
                     help='repository holding conf/ and examples/')
    run.set_defaults(func=run_examples)

    bvars = commands.add_parser('build-vars',
                                help='build facts of this Python (make vars)')
    bvars.set_defaults(func=build_vars)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args)
