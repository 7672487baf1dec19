"""Where mod_apwsgi.so is, what it embeds, and `apwsgi module-config`.

    apwsgi module-config      the LoadModule line for the module that pip
                              installed (or that `make` built, in a
                              checkout), plus the venv's SetEnv line

The module compiles in the home of the Python it was built against (the
base installation, never a venv), so Apache needs no PYTHONHOME; a venv's
packages are added with `SetEnv mod_wsgi.virtualenv`.
"""

import os
import pathlib
import re
import sys

from . import build

PACKAGE = pathlib.Path(__file__).resolve().parent
MODULE_NAME = 'mod_apwsgi.so'
# A checkout: python/apwsgi/ under the repository, which holds build/.
CHECKOUT = PACKAGE.parents[1]


class ModuleNotFound(Exception):
    """No mod_apwsgi.so could be found; str() says how to get one."""


def candidates():
    """Where a module may be, most specific first: $APWSGI_MODULE, the
    installed package (pip), a checkout's build/ (make)."""
    paths = []
    if os.environ.get('APWSGI_MODULE'):
        paths.append(pathlib.Path(os.environ['APWSGI_MODULE']))
    paths.append(PACKAGE / MODULE_NAME)
    if (CHECKOUT / 'Makefile').is_file():
        paths.append(CHECKOUT / 'build' / MODULE_NAME)
    return paths


def find_module(explicit=None):
    """Absolute path of the mod_apwsgi.so to use; raises ModuleNotFound."""
    if explicit:
        path = pathlib.Path(explicit).resolve()
        if not path.is_file():
            raise ModuleNotFound('apwsgi: %s does not exist' % path)
        return path
    for path in candidates():
        if path.is_file():
            return path.resolve()
    raise ModuleNotFound(
        'apwsgi: mod_apwsgi.so not found (looked at %s); install apwsgi '
        'with pip (`pip install .` in a checkout), run `make`, or pass '
        '--module' % ', '.join(str(p) for p in candidates()))


def module_python(path):
    """'X.Y' of the libpython the module links, read from the file."""
    data = pathlib.Path(path).read_bytes()
    match = re.search(rb'libpython(\d+\.\d+)', data)
    return match.group(1).decode() if match else None


def module_has_home(path, home):
    """Whether the module names `home` (compiled in as its Python home)."""
    data = pathlib.Path(path).read_bytes()
    return (home.encode() + b'\0') in data or (home.encode() + b':') in data


def running_venv():
    """The virtual environment this Python runs in, or None."""
    if sys.prefix != sys.base_prefix:
        return sys.prefix
    return None


def this_python():
    return '%d.%d' % sys.version_info[:2]


def apache_quote(value):
    """value as one double-quoted Apache configuration argument."""
    return '"%s"' % str(value).replace('\\', '\\\\').replace('"', '\\"')


def module_config_lines(module):
    """The lines `apwsgi module-config` prints, for a module file."""
    module_version = module_python(module)
    venv = running_venv()
    lines = ['# apwsgi: module for Python %s; put these lines in the server '
             'configuration' % (module_version or '?'),
             'LoadModule apwsgi_module %s' % apache_quote(module)]
    if module_version != this_python():
        lines.append(
            '# Note: this module embeds Python %s, but this command runs '
            'under Python %s: packages installed for this Python are not '
            "the module's." % (module_version, this_python()))
        return lines
    home = build.python_home()
    if not module_has_home(module, home):
        # Built for another installation (moved, or a copy): say where
        # the standard library is, in Apache's environment.
        lines += ['# The module was built for another installation of '
                  'Python %s; in Apache\'s environment (Debian: '
                  '/etc/apache2/envvars) set:' % module_version,
                  '#   export PYTHONHOME=%s' % home]
    if venv:
        lines += ["# This virtualenv's packages, in the <Location>, "
                  '<VirtualHost> or server that runs the application (do '
                  'not set PYTHONHOME to a virtualenv):',
                  'SetEnv mod_wsgi.virtualenv %s' % apache_quote(venv)]
    return lines


def module_config(args):
    try:
        module = find_module(args.module)
    except ModuleNotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    print('\n'.join(module_config_lines(module)))
    return 0
