# SPDX-License-Identifier: Apache-2.0
"""Extension modules that refuse sub-interpreters, with real packages
from PyPI: pydantic (pydantic-core is a PyO3 module) and cryptography
(its Rust bindings are PyO3 too).

PyO3 lets only the first interpreter of a process that imports such a
module have it; CPython refuses a single-phase extension in an
interpreter with its own GIL.  Where the import fails, the client gets a
500 and the log one APW00209 line that names the extension module and
what to do, and no traceback.  docs/extensions.rst has the table.

The packages (pinned in requirements.txt) go into a venv of the Python
the module embeds, kept under build/ between runs; each test starts a
one-process server of its own, since which interpreter imports first
decides.
"""

import hashlib
import re
import subprocess

import pytest

import support
from ecosystem import make_readable, make_venv, module_python_exe

pytestmark = pytest.mark.core

PACKAGES = ('pydantic', 'pydantic-core', 'cryptography')
PYO3_REFUSAL = ('PyO3 modules do not yet support subinterpreters, see '
                'https://github.com/PyO3/pyo3/issues/576')
PYDANTIC_CORE = 'pydantic_core._pydantic_core'
RUST_BINDINGS = 'cryptography.hazmat.bindings._rust'


def pins():
    """The requirements.txt lines of PACKAGES."""
    lines = (support.REPO / 'requirements.txt').read_text().splitlines()
    found = [line.strip() for line in lines
             if re.match(r'(%s)==' % '|'.join(PACKAGES), line.strip())]
    assert len(found) == len(PACKAGES), found
    return found


@pytest.fixture(scope='module')
def venv():
    """A venv of the module's Python with the pinned packages (made once,
    then reused while the pins and the Python stay the same)."""
    python = module_python_exe()
    if python is None:
        pytest.skip("no python binary beside the module's libpython")
    version, _ = support.module_python()
    key = hashlib.sha256(('%s\n%s' % (python.resolve(), pins()))
                         .encode()).hexdigest()[:12]
    parent = support.REPO / 'build' / 'test-venvs'
    path = parent / ('ext-%s-%s' % (version, key))
    if not (path / 'ready').is_file():
        parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(['rm', '-rf', str(path)], check=True)
        make_venv(python, parent, name=path.name, pip=True)
        out = subprocess.run(
            [str(path / 'bin' / 'python'), '-m', 'pip', 'install',
             '--disable-pip-version-check', '--no-input', '--only-binary',
             ':all:', *pins()], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            pytest.fail('pip could not install %s for Python %s:\n%s'
                        % (' '.join(pins()), version,
                           out.stdout[-3000:] + out.stderr[-3000:]),
                        pytrace=False)
        make_readable(path)
        (path / 'ready').write_text('\n'.join(pins()) + '\n')
    return path


def ext_server(make_server, venv):
    """One process: /main (main interpreter), /named (shared GIL), /own
    (mod_wsgi.gil own), all with the venv; /top imports pydantic when it
    loads, in interpreter 'named'."""
    def loc(path, interpreter=None, gil=None, app='ext_app'):
        extra = 'SetEnv mod_wsgi.virtualenv %s' % venv
        if gil:
            extra += '\nSetEnv mod_wsgi.gil %s' % gil
        return support.location(path, app, interpreter=interpreter,
                                extra=extra)
    return support.start_interp_server(
        make_server, loc('/main'), loc('/named', 'named'),
        loc('/own', 'own', 'own'), loc('/top', 'named', app='ext_top_app'))


def works(client, srv, mount):
    pydantic = support.get_json(client, srv, mount + '/pydantic')
    assert pydantic['model'] == {'name': 'x', 'size': 3}
    assert pydantic['version'] == '2.14.3'
    fernet = support.get_json(client, srv, mount + '/fernet')
    assert fernet['roundtrip'] == 'apwsgi'
    assert fernet['version'] == '50.0.2'
    return pydantic['interpreter']


def refused(client, srv, path, module, interpreter, reason,
            app='ext_app'):
    """path gets a 500, and the log exactly one APW00209 line for it
    (naming module, interpreter and reason), and no traceback."""
    log = support.LogWindow(srv)
    r = client.get(srv.url(path))
    assert r.status_code == 500, (path, r.status_code, r.text[:300])
    line, = log.wait(path, tag='APW00209')
    assert '[apwsgi:error]' in line
    assert ("mod_wsgi.application '%s' for %s: extension module '%s' "
            "cannot be loaded in interpreter %s (%s): "
            % (app, path, module, interpreter, reason)) in line, line
    assert ('in the main interpreter (leave mod_wsgi.interpreter unset or '
            'empty), or in an Apache of its own (the scale-out recipe)'
            in line), line
    assert log.tagged('APW00201') == []
    assert 'Traceback' not in log.text()
    return line


@pytest.mark.expect_log('APW00209')
def test_main_interpreter_first(make_server, venv):
    """The usual case: the main interpreter imports them, and a named
    interpreter of the same process is refused."""
    srv = ext_server(make_server, venv)
    with support.Client() as client:
        assert works(client, srv, '/main') == ''
        line = refused(client, srv, '/named/pydantic', PYDANTIC_CORE,
                       'named', PYO3_REFUSAL)
        assert ': run it in the main interpreter' in line
        refused(client, srv, '/named/fernet', RUST_BINDINGS, 'named',
                PYO3_REFUSAL)
        refused(client, srv, '/top/x', PYDANTIC_CORE, 'named',
                PYO3_REFUSAL, app='ext_top_app')
        assert works(client, srv, '/main') == ''


@pytest.mark.expect_log('APW00209')
def test_named_interpreter_first_takes_them(make_server, venv):
    """PyO3 gives the module to whichever interpreter imports it first: a
    named one that does leaves the main interpreter without it."""
    srv = ext_server(make_server, venv)
    with support.Client() as client:
        assert works(client, srv, '/named') == 'named'
        line = refused(client, srv, '/main/pydantic', PYDANTIC_CORE,
                       '(main)', PYO3_REFUSAL)
        assert ('another interpreter of this process loaded it first: run '
                'every application that uses it only in the main '
                'interpreter' in line), line


@pytest.mark.expect_log('APW00209')
def test_own_gil_interpreter_refuses_them(make_server, venv):
    """An interpreter with its own GIL (3.12+) refuses single-phase
    extension modules, PyO3's among them, before PyO3 is asked; the main
    interpreter can still have them afterwards."""
    if not support.own_gil_supported():
        pytest.skip('mod_wsgi.gil own needs Python 3.12 or newer')
    srv = ext_server(make_server, venv)
    with support.Client() as client:
        for path, module in (('/own/pydantic', PYDANTIC_CORE),
                             ('/own/fernet', RUST_BINDINGS)):
            line = refused(client, srv, path, module, 'own',
                           'module %s does not support loading in '
                           'subinterpreters' % module)
            assert line.endswith("; one that refuses only an interpreter "
                                 "with its own GIL loads with 'SetEnv "
                                 "mod_wsgi.gil shared'"), line
        assert works(client, srv, '/main') == ''
