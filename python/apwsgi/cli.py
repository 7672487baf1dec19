# SPDX-License-Identifier: Apache-2.0
"""Command line: ``apwsgi COMMAND`` or ``python -m apwsgi COMMAND``.

    serve          run a WSGI application in a throw-away Apache (serve.py)
    module-config  print the lines that load mod_apwsgi.so (config.py)
    top            a running server's figures in a terminal (top.py)

Only commands that work wherever the package is installed belong here;
the ones that need a checkout live in its tools/ and Makefile.
"""

import argparse

from . import __version__, config, serve, top


def parser():
    cli = argparse.ArgumentParser(
        prog='apwsgi',
        description='Serve WSGI applications with Apache httpd and '
                    'mod_apwsgi.so.',
        epilog="Each command's --help lists its options.")
    cli.add_argument('--version', action='version',
                     version='apwsgi %s' % __version__)
    commands = cli.add_subparsers(title='commands', dest='command',
                                  required=True)

    srv = commands.add_parser(
        'serve', help='run a WSGI application in a throw-away Apache httpd',
        description='Run TARGET in Apache httpd with a generated '
                    'configuration, in the foreground; Ctrl-C stops it.')
    serve.add_arguments(srv)
    srv.set_defaults(func=serve.serve)

    mconf = commands.add_parser(
        'module-config',
        help='print the Apache lines that load mod_apwsgi.so',
        description='Print the LoadModule line for mod_apwsgi.so and, in a '
                    "virtualenv, the SetEnv line for the venv's packages.")
    mconf.add_argument('--module', metavar='PATH',
                       help='mod_apwsgi.so (default: $APWSGI_MODULE, else '
                            'the one pip installed)')
    mconf.set_defaults(func=config.module_config)

    watch = commands.add_parser(
        'top', help="show a running server's figures, like top",
        description='Read the status handler (SetHandler apwsgi-status) '
                    'every interval and show its totals, requests in '
                    'flight, interpreters and processes.  Keys: q quits; '
                    'r, i, p show one panel; a shows all.')
    top.add_arguments(watch)
    watch.set_defaults(func=top.top)
    return cli


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args)
