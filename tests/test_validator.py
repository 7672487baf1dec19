# SPDX-License-Identifier: Apache-2.0
"""Applications wrapped in wsgiref.validate.validator run cleanly: the
validator's assertions and warnings (made errors by validated_app) would
turn into 500s and APW003xx lines."""

import hashlib
import os

import pytest

import support


def finish(http, url, log):
    """Request a sentinel line, then check nothing went wrong before it."""
    tok = support.token()
    assert http.get(url('/valid/errors?' + tok)).status_code == 200
    log.wait('validated-errors ' + tok, tag='APW00501')
    text = log.text()
    for tag in ('APW00301', 'APW00302', 'APW00303', 'APW00503'):
        assert tag + ':' not in text, text
    assert 'Warning' not in text and 'AssertionError' not in text, text


@pytest.mark.expect_log('APW00501')
@pytest.mark.parametrize('mount', ['/valid', '/valid-named'])
def test_simple(http, url, log, mount):
    r = http.get(url(mount + '/simple'))
    assert (r.status_code, r.content) == (200, b'validated simple')
    finish(http, url, log)


@pytest.mark.expect_log('APW00501')
def test_stream_write_file(http, url, log):
    assert http.get(url('/valid/stream')).content == b'one two three'
    assert http.get(url('/valid/write')).content == b'validated write'
    source = (support.APPS / 'validated_app.py').read_bytes()
    assert http.get(url('/valid/file')).content == source
    assert http.head(url('/valid/simple')).status_code == 200
    finish(http, url, log)


@pytest.mark.expect_log('APW00501')
@pytest.mark.parametrize('mount', ['/valid', '/valid-named'])
def test_post(http, url, log, mount):
    data = os.urandom(200000)
    r = http.post(url(mount + '/post'), data=data)
    assert r.content == hashlib.sha256(data).hexdigest().encode()
    finish(http, url, log)


@pytest.mark.expect_log('APW00501')
def test_lines(http, url, log):
    r = http.post(url('/valid/lines'), data=b'a\nb\nc\nd')
    assert r.content == b'a\n|b\n|c\n|d'
    finish(http, url, log)


@pytest.mark.expect_log('APW00501')
def test_exc_info(http, url, log):
    r = http.get(url('/valid/exc_info'))
    assert (r.status_code, r.reason, r.content) == (500, 'Handled',
                                                    b'handled')
    finish(http, url, log)
