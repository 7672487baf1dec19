# SPDX-License-Identifier: Apache-2.0
"""`apwsgi --help` (python -m apwsgi): the user's commands, one line each.

The package ships in the wheel, so its command line offers only what
works wherever it is installed: `serve`, `module-config` and `top`.
Help text speaks of the product: no issue numbers, no development
history.
Independent of the MPM: runs in the event-MPM step of `make test` only.
"""

import re
import subprocess
import sys

import pytest

import support
from support import tooling_env

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

COMMANDS = ('serve', 'module-config', 'top')
# Words that tell of how the tree was built rather than what it does.
HISTORY_RE = re.compile(r'\bissues?\b|\bround \d|#\d|\bticket\b|\bTODO\b',
                        re.I)


def apwsgi(*args):
    return subprocess.run([sys.executable, '-m', 'apwsgi', *args],
                          env=tooling_env(), capture_output=True, text=True,
                          timeout=60, cwd='/')


def listed_commands(text):
    """{command: [help lines]} of the `commands:` section of --help."""
    section = text.split('\ncommands:\n', 1)[1].split('\n\n', 1)[0]
    lines = section.splitlines()
    assert lines[0].strip() == '{%s}' % ','.join(COMMANDS), section
    listed = {}
    for line in lines[1:]:
        match = re.fullmatch(r'    (\S+) +(\S.*)', line)
        if match:
            listed[match.group(1)] = [match.group(2)]
        else:
            # A continuation line: a help that did not fit on one.
            assert line.startswith(' ' * 6), line
            listed[list(listed)[-1]].append(line.strip())
    return listed


def test_help_lists_the_user_commands_one_line_each():
    out = apwsgi('--help')
    assert (out.returncode, out.stderr) == (0, ''), out
    assert out.stdout.startswith(
        'usage: apwsgi [-h] [--version] {serve,module-config,top} ...\n')
    assert listed_commands(out.stdout) == {
        'serve': ['run a WSGI application in a throw-away Apache httpd'],
        'module-config': ['print the Apache lines that load mod_apwsgi.so'],
        'top': ["show a running server's figures, like top"],
    }


@pytest.mark.parametrize('args', [['--help']] + [
    [command, '--help'] for command in COMMANDS])
def test_help_speaks_of_the_product(args):
    out = apwsgi(*args)
    assert out.returncode == 0, out
    assert HISTORY_RE.findall(out.stdout) == []


def test_checkout_commands_are_not_offered():
    out = apwsgi('run-examples')
    assert out.returncode == 2
    assert "invalid choice: 'run-examples'" in out.stderr


def test_a_command_is_required():
    out = apwsgi()
    assert out.returncode == 2
    assert out.stderr.endswith('apwsgi: error: the following arguments are '
                               'required: command\n')


def test_version():
    from apwsgi import __version__
    out = apwsgi('--version')
    assert (out.returncode, out.stdout) == (0, 'apwsgi %s\n' % __version__)
