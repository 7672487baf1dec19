"""Command line: ``apwsgi COMMAND`` or ``python -m apwsgi COMMAND``.

    serve          run a WSGI application in a throw-away Apache (serve.py)
    module-config  print the lines that load mod_apwsgi.so (config.py)

Only commands that work wherever the package is installed belong here;
the ones that need a checkout live in its tools/ and Makefile.
"""

import argparse

from . import __version__, config, serve


def parser():
    top = argparse.ArgumentParser(
        prog='apwsgi',
        description='Serve WSGI applications with Apache httpd and '
                    'mod_apwsgi.so.',
        epilog="Each command's --help lists its options.")
    top.add_argument('--version', action='version',
                     version='apwsgi %s' % __version__)
    commands = top.add_subparsers(title='commands', dest='command',
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
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args)
