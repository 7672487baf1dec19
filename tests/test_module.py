# SPDX-License-Identifier: Apache-2.0
"""Module identity: symbol and file name, handler name, no directives, and
requests it must leave alone."""

import subprocess

import pytest

import support

pytestmark = pytest.mark.core


def test_exports_apwsgi_module_only():
    out = subprocess.run(['nm', '-D', '--defined-only', str(support.MODULE)],
                         capture_output=True, text=True, check=True).stdout
    symbols = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert 'apwsgi_module' in symbols
    assert 'wsgi_module' not in symbols
    assert support.MODULE.name == 'mod_apwsgi.so'


@pytest.mark.parametrize('directive', ['WSGIScriptAlias /x /tmp/x.wsgi',
                                       'WSGIDaemonProcess x',
                                       'WSGIApplicationGroup %{GLOBAL}'])
def test_defines_no_directives(make_server, directive):
    """mod_wsgi's directives are unknown: configuration is SetEnv only."""
    with pytest.raises(RuntimeError, match='Invalid command'):
        make_server(directive)


def test_other_handlers_declined(http, url, log):
    """Without SetHandler mod_wsgi the keys alone do nothing."""
    r = http.get(url('/declined/x'))
    assert r.status_code == 404
    assert log.lines('APW', '/declined') == []


def test_directory_section_gives_empty_script_name(http, url):
    r = http.get(url('/dirapp/x/y'))
    assert r.status_code == 200, r.text
    s = r.json()['str']
    assert (s['SCRIPT_NAME'], s['PATH_INFO']) == ('', '/dirapp/x/y')
