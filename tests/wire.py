# SPDX-License-Identifier: Apache-2.0
"""A strict reader of HTTP/1.1 responses as raw bytes, for tests that must
see exactly what went on the wire (framing, header lines, cut bodies).

parse_response(data) reads one response from the start of `data` and
raises WireError for anything that is not well-formed HTTP/1.1.  A body
cut short (the connection closed inside it) is not an error: the result
says so in `complete`.
"""

import re

STATUS_RE = re.compile(rb'HTTP/1\.[01] ([0-9]{3}) ([^\r\n]*)\Z')
TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Field values: visible characters, space, tab and obs-text; no CTLs.
VALUE_RE = re.compile(rb'[\t\x20-\x7e\x80-\xff]*\Z')
CHUNK_SIZE_RE = re.compile(rb'([0-9A-Fa-f]+)(;[^\r\n]*)?\Z')


class WireError(AssertionError):
    """The bytes are not a well-formed HTTP/1.1 response."""


class Response:
    def __init__(self, status, reason, headers, body, complete, rest):
        self.status = status        # int
        self.reason = reason        # bytes
        self.headers = headers      # [(name bytes, value bytes)] as sent
        self.body = body            # bytes, chunk framing removed
        self.complete = complete    # False: the connection was cut
        self.rest = rest            # bytes after this response

    def header(self, name):
        """The values of header `name` (case-insensitive), in order."""
        name = name.lower().encode('latin-1')
        return [v for n, v in self.headers if n.lower() == name]

    def names(self):
        return [n.lower() for n, v in self.headers]

    def __repr__(self):
        return '<Response %d %r %d headers, %d body bytes%s>' % (
            self.status, self.reason, len(self.headers), len(self.body),
            '' if self.complete else ', cut')


def _read_chunked(data):
    """-> (body, complete, rest) of a chunked body at the start of data."""
    body = []
    pos = 0
    while True:
        eol = data.find(b'\r\n', pos)
        if eol < 0:
            if len(data) - pos > 1024:
                raise WireError('chunk size line too long: %r'
                                % data[pos:pos + 80])
            return b''.join(body), False, b''
        match = CHUNK_SIZE_RE.match(data[pos:eol])
        if not match:
            raise WireError('bad chunk size line %r' % data[pos:eol][:80])
        size = int(match.group(1), 16)
        pos = eol + 2
        if size == 0:
            # Trailer fields, then an empty line.
            while True:
                eol = data.find(b'\r\n', pos)
                if eol < 0:
                    return b''.join(body), False, b''
                line = data[pos:eol]
                pos = eol + 2
                if not line:
                    return b''.join(body), True, data[pos:]
                _check_field(line)
        if len(data) < pos + size:
            body.append(data[pos:])
            return b''.join(body), False, b''
        body.append(data[pos:pos + size])
        pos += size
        if len(data) < pos + 2:
            return b''.join(body), False, b''
        if data[pos:pos + 2] != b'\r\n':
            raise WireError('chunk of %d bytes not followed by CRLF: %r'
                            % (size, data[pos:pos + 20]))
        pos += 2


def _check_field(line):
    name, sep, value = line.partition(b':')
    if not sep or not TOKEN_RE.match(name):
        raise WireError('bad header line %r' % line[:200])
    if not VALUE_RE.match(value):
        raise WireError('control character in header line %r' % line[:200])
    return name, value.strip(b' \t')


def parse_response(data, head=False):
    """One response at the start of data -> Response; WireError if the
    status line or a header line is malformed, or the framing is."""
    end = data.find(b'\r\n\r\n')
    if end < 0:
        raise WireError('no end of the header section in %d bytes: %r'
                        % (len(data), data[:300]))
    lines = data[:end].split(b'\r\n')
    for line in lines:
        if b'\n' in line or b'\r' in line:
            raise WireError('bare CR or LF in the header section: %r'
                            % line[:200])
    match = STATUS_RE.match(lines[0])
    if not match:
        raise WireError('bad status line %r' % lines[0][:200])
    status = int(match.group(1))
    reason = match.group(2)
    if not VALUE_RE.match(reason):
        raise WireError('control character in the reason %r' % reason)
    headers = [_check_field(line) for line in lines[1:]]
    lowered = {}
    for name, value in headers:
        lowered.setdefault(name.lower(), []).append(value)
    payload = data[end + 4:]
    if head or status in (204, 304) or 100 <= status < 200:
        return Response(status, reason, headers, b'', True, payload)
    if b'transfer-encoding' in lowered:
        if lowered[b'transfer-encoding'] != [b'chunked']:
            raise WireError('Transfer-Encoding %r'
                            % lowered[b'transfer-encoding'])
        if b'content-length' in lowered:
            raise WireError('both Transfer-Encoding and Content-Length')
        body, complete, rest = _read_chunked(payload)
        return Response(status, reason, headers, body, complete, rest)
    if b'content-length' in lowered:
        values = lowered[b'content-length']
        if len(values) != 1 or not values[0].isdigit():
            raise WireError('bad Content-Length %r' % values)
        length = int(values[0])
        return Response(status, reason, headers, payload[:length],
                        len(payload) >= length, payload[length:])
    # Neither: the body ends where the connection does.
    return Response(status, reason, headers, payload, True, b'')
