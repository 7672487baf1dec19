# SPDX-License-Identifier: Apache-2.0
"""Fuzz: hypothesis-generated WSGI responses (status, header list, body
items of mixed types, four ways of returning them) replayed by
tests/apps/fuzz_app.py against the running module.

For every case:
- what reaches the wire is one well-formed HTTP/1.1 response (tests/wire.py
  reads it strictly), possibly cut inside its body, and nothing after it;
- no CR, LF or other control character from the application reaches the
  header section, and no header the application did not set appears;
- the outcome is exactly the one PEP 3333 and docs/environ.rst call for: the
  response as given, a 500 when the application failed before a byte of
  body went out, a cut connection when it failed later, a 502 when a
  Content-Length was promised and nothing sent (oracle: expected());
- the Apache children are the same before and after (none died).

The number of examples is bounded (MAX_EXAMPLES) so that this runs in
well under a minute in `make test`.  Not a core test: the response path
is the same C code under every Python, so one Python is enough.
"""

import collections
import json
import os
import string

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import harness  # noqa: E402
import support  # noqa: E402
import wire  # noqa: E402

# APWSGI_FUZZ_EXAMPLES=N runs more (a longer hunt by hand).
MAX_EXAMPLES = int(os.environ.get('APWSGI_FUZZ_EXAMPLES', '400'))

TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
HOP_BY_HOP = {'connection', 'keep-alive', 'proxy-authenticate',
              'proxy-authorization', 'te', 'trailer', 'trailers',
              'transfer-encoding', 'upgrade'}
# Headers Apache sets itself, whatever the application says.
SERVER_OWNED = {b'date', b'server', b'connection', b'keep-alive',
                b'transfer-encoding', b'content-length', b'content-type'}

# ---- strategies ----

INJECTIONS = st.sampled_from(['\r\nX-Injected: 1', '\nX-Injected: 1',
                              '\rX-Injected: 1', '\r\n\r\nX-Injected: 1',
                              '\x00X-Injected: 1', '\r\n X-Injected: 1'])
# Anything up to U+02FF: controls, latin-1, and beyond latin-1.
ANY_TEXT = st.text(alphabet=st.characters(max_codepoint=0x2ff,
                                          exclude_categories=('Cs',)),
                   max_size=12)
FIELD_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20,
                                            max_codepoint=0xff,
                                            exclude_characters='\x7f')
                     | st.just('\t'), max_size=16)
DIRTY_TEXT = st.one_of(ANY_TEXT, st.builds(lambda a, b, c: a + b + c,
                                           FIELD_TEXT, INJECTIONS,
                                           FIELD_TEXT))

X_NAMES = st.text(alphabet=TCHARS, max_size=6).map(lambda s: 'X-F' + s)
GOOD_STATUS = st.builds(lambda code, reason: '%d %s' % (code, reason),
                        st.one_of(st.sampled_from([200, 201, 203, 204, 205,
                                                   299, 304, 400, 404, 418,
                                                   500, 503, 599]),
                                  st.integers(200, 599)),
                        FIELD_TEXT)
BAD_STATUS = st.one_of(
    st.builds(lambda code, sep, reason: code + sep + reason,
              st.one_of(st.integers(0, 1200).map(str),
                        st.text(alphabet='0123456789 xX', max_size=4)),
              st.sampled_from([' ', '', '\t', '  ']),
              st.one_of(FIELD_TEXT, DIRTY_TEXT)),
    st.builds(lambda reason: '200 ' + reason, DIRTY_TEXT),
    st.binary(max_size=8), st.integers(), st.none())
GOOD_HEADER = st.one_of(st.tuples(X_NAMES, FIELD_TEXT),
                        st.tuples(X_NAMES, FIELD_TEXT),
                        st.tuples(st.just('Content-Type'), FIELD_TEXT))
BAD_HEADER = st.one_of(
    st.tuples(DIRTY_TEXT.map(lambda s: 'X-F' + s), FIELD_TEXT),
    st.tuples(X_NAMES, DIRTY_TEXT),
    st.tuples(st.sampled_from(['Connection', 'Transfer-Encoding',
                               'keep-alive', 'TE', 'Upgrade', 'Trailer',
                               'Proxy-Authenticate', '', 'X F', 'X:F']),
              FIELD_TEXT),
    st.tuples(st.sampled_from(['Content-Length', 'content-length']),
              st.one_of(FIELD_TEXT, st.just(''), st.just('-1'),
                        st.just('1' * 19))),
    st.lists(FIELD_TEXT, min_size=2, max_size=2),
    st.tuples(X_NAMES), st.tuples(X_NAMES, FIELD_TEXT, FIELD_TEXT),
    st.tuples(st.binary(max_size=6), FIELD_TEXT),
    st.tuples(X_NAMES, st.one_of(st.binary(max_size=6), st.integers(),
                                 st.none())),
    FIELD_TEXT, st.none())
BAD_ITEM = st.one_of(st.text(max_size=4), st.integers(), st.none(),
                     st.binary(max_size=4).map(bytearray))
GOOD_ITEM = st.one_of(st.binary(max_size=40),
                      st.sampled_from([b'', b'\r\n', b'0\r\n\r\n',
                                       b'HTTP/1.1 200 OK\r\n\r\n']))


def sometimes(draw, percent):
    """True in about percent % of the cases (hypothesis favours small
    integers, and shrinks towards them: towards no fault)."""
    return draw(st.integers(0, 99)) >= 100 - percent


@st.composite
def cases(draw):
    """A valid response, with one fault or another mixed in often."""
    status = draw(BAD_STATUS if sometimes(draw, 20) else GOOD_STATUS)
    headers = draw(st.lists(GOOD_HEADER, max_size=5))
    body = draw(st.lists(GOOD_ITEM, max_size=6))
    if sometimes(draw, 25):
        headers.insert(draw(st.integers(0, len(headers))), draw(BAD_HEADER))
    if sometimes(draw, 25):
        body.insert(draw(st.integers(0, len(body))), draw(BAD_ITEM))
    total = sum(len(item) for item in body if type(item) is bytes)
    length = draw(st.sampled_from([None, None, total, total, total + 1,
                                   max(total - 1, 0), 0]))
    if length is not None:
        headers.insert(draw(st.integers(0, len(headers))),
                       (draw(st.sampled_from(['Content-Length',
                                              'content-length'])),
                        str(length)))
    if sometimes(draw, 8):
        headers = draw(st.sampled_from([tuple(headers), None, 'X-F: 1']))
    raise_at = None
    if sometimes(draw, 20):
        raise_at = draw(st.integers(0, len(body)))
    return {'status': status, 'headers': headers, 'body': body,
            'mode': draw(st.sampled_from(['list', 'tuple', 'generator',
                                          'write'])),
            'raise_at': raise_at}


CASES = cases()


def encode(value):
    """A Python value as fuzz_app's tagged JSON."""
    if value is None:
        return ['none']
    if isinstance(value, str):
        return ['str', value]
    if isinstance(value, bytearray):
        return ['bytearray', bytes(value).decode('latin-1')]
    if isinstance(value, bytes):
        return ['bytes', value.decode('latin-1')]
    if isinstance(value, int):
        return ['int', value]
    if isinstance(value, list):
        return ['list', [encode(v) for v in value]]
    if isinstance(value, tuple):
        return ['tuple', [encode(v) for v in value]]
    raise TypeError('cannot encode %r' % (value,))


# ---- the oracle: what the module must answer ----

def latin1(s):
    return isinstance(s, str) and all(ord(c) <= 0xff for c in s)


def field_chars(s):
    return all((0x20 <= ord(c) and ord(c) != 0x7f) or c == '\t' for c in s)


def check_status(status):
    """The status code, or None when start_response must refuse it."""
    if not latin1(status) or len(status) < 4 or status[3] != ' ':
        return None
    if not all(c in string.digits for c in status[:3]):
        return None
    if not field_chars(status[4:]):
        return None
    code = int(status[:3])
    return code if 200 <= code <= 599 else None


def check_headers(headers):
    """(headers for the wire, content length or None, content type or
    None), or None when start_response must refuse the list."""
    if type(headers) is not list:
        return None
    out, length, ctype = [], None, None
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            return None
        name, value = item
        if not latin1(name) or not latin1(value):
            return None
        if not name or not all(c in TCHARS for c in name):
            return None
        if not field_chars(value) or name.lower() in HOP_BY_HOP:
            return None
        if name.lower() == 'content-length':
            if not value or len(value) > 18 or \
                    not all(c in string.digits for c in value):
                return None
            length = int(value)
        elif name.lower() == 'content-type':
            ctype = value
        else:
            out.append((name, value))
    return out, length, ctype


def expected(case):
    """('ok', body) | ('cut', body sent) | ('500',) | ('502',), and the
    start_response facts (None when start_response raises)."""
    code = check_status(case['status'])
    facts = check_headers(case['headers'])
    if code is None or facts is None:
        return ('500',), None
    _, length, _ = facts
    body, mode, raise_at = case['body'], case['mode'], case['raise_at']
    if code in NO_BODY:
        return expected_no_body(code, facts, body, mode, raise_at)
    sent = b''
    started = False     # headers (and maybe data) passed to Apache

    def done():
        return length is not None and len(sent) >= length

    def add(item):
        nonlocal sent, started
        started = True
        room = len(item) if length is None else length - len(sent)
        sent += item[:room]

    def failed():
        if not started:
            return ('500',), None
        # A body already complete by its Content-Length stays complete.
        return (('ok' if done() else 'cut'), sent), (code, facts)

    def finish(wire_length):
        if wire_length is not None and len(sent) < wire_length:
            return (('cut', sent) if sent else ('502',)), (code, facts)
        return ('ok', sent), (code, facts)

    if mode in ('list', 'tuple'):
        if any(type(item) is not bytes for item in body):
            return ('500',), None
        total = b''.join(body)
        wire_length = length if length is not None else len(total)
        length = wire_length
        add(total)
        return finish(wire_length)
    if mode == 'generator':
        for i in range(len(body) + 1):
            if done():
                break
            if i == raise_at:
                return failed()
            if i == len(body):
                break
            if type(body[i]) is not bytes:
                return failed()
            if body[i]:
                add(body[i])
        return finish(length)
    # write(): each item in turn, then [] is returned.
    for i in range(len(body) + 1):
        if i == raise_at:
            return failed()
        if i == len(body):
            break
        if type(body[i]) is not bytes:
            return failed()
        if body[i] and not done():
            add(body[i])
    if not started and length is None:
        length = 0
    return finish(length)


# Statuses that never carry a body (RFC 9110): nothing of the body goes
# out, and nothing of it is asked for once the status is known.
NO_BODY = (204, 205, 304)


def expected_no_body(code, facts, body, mode, raise_at):
    """expected() for a status in NO_BODY: only what fails before the
    headers go (a bad list item, a write() of no bytes, a raise in the
    write loop) changes the answer, to 500; a generator is never
    iterated."""
    if mode in ('list', 'tuple'):
        if any(type(item) is not bytes for item in body):
            return ('500',), None
    elif mode == 'write':
        for i in range(len(body) + 1):
            if i == raise_at:
                return ('500',), None
            if i < len(body) and type(body[i]) is not bytes:
                return ('500',), None
    return ('ok', b''), (code, facts)


# ---- the test ----

@pytest.fixture(scope='module')
def srv():
    def config(state):
        return support.location('/fuzz', 'fuzz_app')
    yield from harness.shared(config)


def replay(srv, case):
    payload = json.dumps({'status': encode(case['status']),
                          'headers': encode(case['headers']),
                          'body': [encode(v) for v in case['body']],
                          'mode': case['mode'],
                          'raise_at': case['raise_at']}).encode('ascii')
    return support.raw_request(
        srv, b'POST /fuzz/ HTTP/1.1\r\nHost: 127.0.0.1\r\n'
             b'Connection: close\r\nContent-Type: application/json\r\n'
             b'Content-Length: %d\r\n\r\n%s' % (len(payload), payload))


def check(case, data):
    outcome, facts = expected(case)
    r = wire.parse_response(data)
    head = data[:data.index(b'\r\n\r\n')]
    assert b'x-injected' not in head.lower(), head
    assert r.rest == b'', 'bytes after the response: %r' % r.rest[:200]
    if outcome[0] in ('500', '502'):
        assert r.status == int(outcome[0]), (outcome, r)
        assert r.complete, r
        assert not any(n.lower().startswith(b'x-f') for n in r.names()), r
        return
    code, (headers, length, ctype) = facts
    assert r.status == code, (outcome, r)
    app = sorted((n.encode('latin-1'), v.encode('latin-1').strip(b' \t'))
                 for n, v in headers
                 if n.lower().encode('latin-1') not in SERVER_OWNED)
    on_wire = sorted((n, v) for n, v in r.headers
                     if n.lower() not in SERVER_OWNED)
    if code in NO_BODY:
        # No body, whatever the application gives, and Apache may drop
        # entity headers: only no header may come from elsewhere.  205
        # says so with "Content-Length: 0"; 204 and 304 have none.
        assert (r.body, r.complete) == (b'', True), (outcome, r)
        assert not collections.Counter(on_wire) - collections.Counter(app), \
            (outcome, r.headers)
        assert r.header('Content-Length') == ([b'0'] if code == 205
                                              else []), r.headers
        assert r.header('Transfer-Encoding') == [], r.headers
        return
    assert r.body == outcome[1], (outcome, r)
    assert r.complete == (outcome[0] == 'ok'), (outcome, r)
    assert on_wire == app, (outcome, r.headers)
    if length is not None:
        assert r.header('Content-Length') == [b'%d' % length], r.headers
    if ctype is not None:
        # An empty one is no Content-Type for Apache.
        value = ctype.encode('latin-1').strip(b' \t')
        assert r.header('Content-Type') == ([value] if ctype else []), \
            r.headers


@pytest.mark.expect_log('APW00301', 'APW00302', 'APW00304')
def test_fuzz_wsgi_responses(srv):
    children = set(srv.child_pids())

    @settings(max_examples=MAX_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(case=CASES)
    def run(case):
        check(case, replay(srv, case))
        assert set(srv.child_pids()) == children, 'a child died'

    run()


@pytest.mark.parametrize('case, outcome', [
    ({'status': '200 OK', 'headers': [('X-A', 'a\r\nX-Injected: 1')],
      'body': [b'x'], 'mode': 'list', 'raise_at': None}, '500'),
    ({'status': '200 OK\r\nX-Injected: 1', 'headers': [], 'body': [b'x'],
      'mode': 'generator', 'raise_at': None}, '500'),
    ({'status': '200 OK', 'headers': [('Content-Length', '5')],
      'body': [b'ab'], 'mode': 'generator', 'raise_at': None}, 'cut'),
    ({'status': '200 OK', 'headers': [('Content-Length', '5')],
      'body': [], 'mode': 'list', 'raise_at': None}, '502'),
    ({'status': '299 Odd', 'headers': [('X-F', 'v')],
      'body': [b'a', 'str'], 'mode': 'write', 'raise_at': None}, 'cut'),
    ({'status': '404 Gone', 'headers': [('X-F', ' \tv')],
      'body': [b'', b'a'], 'mode': 'generator', 'raise_at': 2}, 'cut'),
    ({'status': '201 ', 'headers': [], 'body': [b'', b''],
      'mode': 'write', 'raise_at': None}, 'ok'),
    ({'status': '204 ', 'headers': [('Content-Length', '1')],
      'body': [], 'mode': 'list', 'raise_at': None}, 'ok'),
    ({'status': '205 Reset', 'headers': [], 'body': [b'x'],
      'mode': 'generator', 'raise_at': 0}, 'ok'),
    ({'status': '304 ', 'headers': [], 'body': [b'x', 'str'],
      'mode': 'write', 'raise_at': None}, '500'),
])
@pytest.mark.expect_log('APW00301', 'APW00302', 'APW00304')
def test_fuzz_oracle_examples(srv, case, outcome):
    """Fixed cases: the oracle and the module agree on each outcome."""
    assert expected(case)[0][0] == outcome
    check(case, replay(srv, case))
