"""Command line: ``apwsgi <command>`` or ``python -m apwsgi <command>``.

    serve          run a WSGI application in a throw-away Apache (serve.py)
    module-config  print the LoadModule line for mod_apwsgi.so (config.py)
    run-examples   serve examples/ with conf/examples.conf (``make run``)
    build-vars     print the build facts of this Python (the Makefile's input)
"""

import argparse
import pathlib
import sys

from . import build, config, serve
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

    def ready():
        print('apwsgi: serving; try:')
        for path, what in EXAMPLE_URLS:
            print('    %-36s %s' % (server.url(path), what))
        print('apwsgi: error log %s (following it below); Ctrl-C stops.'
              % server.error_log, flush=True)
    return serve.run_foreground(server, ready, [server.error_log])


def build_vars(args):
    return build.main(['vars'])


def parser():
    top = argparse.ArgumentParser(
        prog='apwsgi', description='apwsgi: WSGI applications in Apache '
                                   'httpd (mod_apwsgi.so) and its tooling')
    commands = top.add_subparsers(dest='command', required=True)

    srv = commands.add_parser(
        'serve', help='run a WSGI application in a throw-away Apache',
        description='Run TARGET in Apache httpd with a generated '
                    'configuration, in the foreground; Ctrl-C stops it.')
    serve.add_arguments(srv)
    srv.set_defaults(func=serve.serve)

    mconf = commands.add_parser(
        'module-config', help='print the LoadModule line for mod_apwsgi.so')
    mconf.add_argument('--module', metavar='PATH',
                       help='mod_apwsgi.so (default: the installed one)')
    mconf.set_defaults(func=config.module_config)

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
