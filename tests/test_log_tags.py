# SPDX-License-Identifier: Apache-2.0
"""tools/check-log-tags: every error-log tag in src/ is used at one
place only, and listed in docs/errors.rst with the level it is logged at.

The first test checks the tree itself.  The others plant one fault each
in a copy of src/ and of the error reference (--src, --doc) and check
that the tool reports exactly that fault, one line per finding, and
exits 1.  No Apache is needed.
"""

import re
import shutil
import subprocess
import sys

import pytest

import support

TOOL = support.REPO / 'tools' / 'check-log-tags'


def run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree(tmp_path):
    """A copy of src/ and docs/errors.rst: (src dir, doc file)."""
    src = tmp_path / 'src'
    shutil.copytree(support.REPO / 'src', src)
    doc = tmp_path / 'errors.rst'
    shutil.copy(support.REPO / 'docs' / 'errors.rst', doc)
    return src, doc


def line_of(path, needle, start=1):
    """The number of the first line at or after `start` holding
    `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if number >= start and needle in line:
            return number
    raise AssertionError('%r not in %s' % (needle, path))


def replace(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def findings(src, doc):
    out = run('--src', src, '--doc', doc)
    assert out.stderr == ''
    assert out.returncode == (1 if out.stdout else 0), out
    return out.stdout.splitlines()


def test_the_tree_is_clean():
    out = run()
    assert (out.returncode, out.stdout, out.stderr) == (0, '', '')


def test_a_copy_is_clean(tree):
    assert findings(*tree) == []


def test_duplicate_tag(tree):
    """APW00104 turned into a second APW00101: the later site is told
    to take a new tag, and APW00104 is listed but no longer used."""
    src, doc = tree
    config = src / 'apwsgi_config.c'
    first = line_of(config, 'APWSGI_APLOGNO(00101)')
    replace(config, 'APWSGI_APLOGNO(00104)', 'APWSGI_APLOGNO(00101)')
    second = line_of(config, 'APWSGI_APLOGNO(00101)', first + 1)
    assert findings(src, doc) == [
        '%s:%d: APW00101 is also used at %s:%d: give this site a new tag'
        % (config, second, config, first),
        '%s:%d: APW00104 is listed but no source uses it'
        % (doc, line_of(doc, '``APW00104``')),
    ]


@pytest.mark.parametrize('tag, source, level, wrong', [
    ('00305', 'apwsgi_response.c', 'info', 'warning'),
    # A trace level (APLOG_TRACE1) is read from the code like any other.
    ('00310', 'apwsgi_environ.c', 'trace1', 'trace2'),
])
def test_level_listed_wrong(tree, tag, source, level, wrong):
    src, doc = tree
    row = line_of(doc, '``APW%s``' % tag)
    lines = doc.read_text().splitlines()
    assert lines[row] == '     - ' + level
    lines[row] = '     - ' + wrong
    doc.write_text('\n'.join(lines) + '\n')
    path = src / source
    assert findings(src, doc) == [
        '%s:%d: APW%s is listed as %s, but %s:%d logs it as %s'
        % (doc, row, tag, wrong, path,
           line_of(path, 'APWSGI_APLOGNO(%s)' % tag), level)]


def test_level_changed_in_a_helper(tree):
    """apwsgi_log_exception() logging at warning instead of error: every
    tag handed to it (directly or through log_import_failure) is
    reported, and no other."""
    src, doc = tree
    log_c = src / 'apwsgi_log.c'
    replace(log_c, 'log_lines(r, s, APLOG_ERR, tag, copy,',
            'log_lines(r, s, APLOG_WARNING, tag, copy,')
    out = findings(src, doc)
    reported = {re.search(r'(APW\d{5}) is listed as error, but .* logs it '
                          r'as warning$', line).group(1) for line in out}
    assert len(reported) == len(out)
    assert {'APW00301', 'APW00201', 'APW00505', 'APW00023'} <= reported
    # Logged straight with ap_log_*error(), or through other helpers.
    assert not reported & {'APW00101', 'APW00106', 'APW00209', 'APW00501'}


def test_tag_missing_from_the_reference(tree):
    src, doc = tree
    lines = doc.read_text().splitlines()
    row = line_of(doc, '``APW00113``') - 1
    del lines[row:row + 4]
    doc.write_text('\n'.join(lines) + '\n')
    config = src / 'apwsgi_config.c'
    assert findings(src, doc) == [
        '%s:%d: APW00113 (error) is missing from %s'
        % (config, line_of(config, 'APWSGI_APLOGNO(00113)'), doc)]


def test_static_tag_string_logged_twice(tree):
    """A tag kept in a static string counts once per call that logs
    it."""
    src, doc = tree
    request = src / 'apwsgi_request.c'
    replace(request, 'start_response = errors ? apwsgi_start_response_new',
            'errors = errors ? errors : apwsgi_log_new(st, r, tag_errors);\n'
            '    start_response = errors ? apwsgi_start_response_new')
    assert findings(src, doc) == [
        '%s:%d: APW00501 (in tag_errors) is also logged here'
        % (request, line_of(request, 'errors ? errors : apwsgi_log_new'))]


def test_log_call_without_a_tag(tree):
    src, doc = tree
    request = src / 'apwsgi_request.c'
    replace(request, '    request_rec *r = req->r;\n\n    if (!req->headers',
            '    request_rec *r = req->r;\n\n'
            '    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "untagged");\n'
            '    if (!req->headers')
    assert findings(src, doc) == [
        '%s:%d: ap_log_rerror() logs without a tag'
        % (request, line_of(request, '"untagged"'))]


def test_bad_arguments(tmp_path):
    out = run('--src', tmp_path / 'nowhere')
    assert out.returncode == 2
    assert 'is not a directory' in out.stderr
