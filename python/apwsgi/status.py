# SPDX-License-Identifier: Apache-2.0
"""Reading a server's status handler (``SetHandler apwsgi-status``).

``Target`` is the handler's URL as the user gave it; ``fetch()`` reads
its ``?json`` document (docs/status-schema.json) with the standard
library only, and turns every way that can fail into ``Unavailable``,
whose message says what went wrong and what to check.  ``quantile()``
and ``histogram_delta()`` compute what the document does not hold:
percentiles, and the observations between two reads.
"""

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from . import __version__

SCHEMA = 'apwsgi-status/1'
# The documented location (docs/operations.rst) on this host.
DEFAULT_URL = 'http://127.0.0.1/apwsgi-status'
# A status document of a few hundred children is well under this.
MAX_BODY = 64 * 1024 * 1024
# The members every document of SCHEMA has (docs/status-schema.json).
MEMBERS = ('time', 'server', 'totals', 'interpreters', 'processes',
           'requests', 'requests_unlisted', 'series')


class Unavailable(Exception):
    """The status document could not be read; str() says why."""


class Target:
    """The status handler at `url`: what to request, and how to name it.

    The query gets ``json`` (other members are kept, so the URL of
    another handler is read as the user wrote it).  A user and password
    in the URL are sent as HTTP Basic authentication and never shown.
    """

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise ValueError('%r is not an http:// or https:// URL' % url)
        try:
            self.port = parts.port or (443 if parts.scheme == 'https'
                                       else 80)
        except ValueError:
            raise ValueError('%r has an invalid port' % url) from None
        self.host = parts.hostname
        netloc = parts.netloc.rpartition('@')[2]
        keys = [item.partition('=')[0] for item in parts.query.split('&')]
        query = parts.query if 'json' in keys else \
            '&'.join(filter(None, [parts.query, 'json']))
        self.url = urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path or '/', query, ''))
        self.shown = urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path or '/', '', ''))
        self.headers = {'Accept': 'application/json',
                        'User-Agent': 'apwsgi-top/%s' % __version__}
        if parts.username is not None:
            login = '%s:%s' % (urllib.parse.unquote(parts.username),
                               urllib.parse.unquote(parts.password or ''))
            self.headers['Authorization'] = 'Basic ' + base64.b64encode(
                login.encode('utf-8')).decode('ascii')

    @property
    def address(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return '%s:%d' % (host, self.port)


def fetch(target, timeout):
    """GET target's ?json; -> the document (a dict of schema SCHEMA).

    Raises Unavailable when the server cannot be reached, refuses,
    answers something else than a status document, or takes longer than
    `timeout` seconds to connect or between two reads.
    """
    request = urllib.request.Request(target.url, headers=target.headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            body = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise Unavailable(_refused(target, exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        raise Unavailable(_unreachable(target, exc.reason, timeout)) \
            from None
    except (OSError, http.client.HTTPException) as exc:
        raise Unavailable(_unreachable(target, exc, timeout)) from None
    return _document(target, kind, body)


def _unreachable(target, reason, timeout):
    """The message for a connection that failed for `reason`."""
    where = target.address
    if isinstance(reason, socket.gaierror):
        return 'cannot resolve the host name %r: %s' % (
            target.host, reason.strerror or reason)
    if isinstance(reason, ConnectionRefusedError):
        return ('cannot connect to %s: connection refused (is Apache '
                'running, and listening on that port?)' % where)
    if isinstance(reason, TimeoutError):
        return 'no answer from %s within %g s' % (where, timeout)
    if isinstance(reason, ssl.SSLError):
        return 'TLS with %s failed: %s' % (where, reason)
    if isinstance(reason, (ConnectionResetError, http.client.HTTPException)):
        return ('%s closed the connection without an HTTP answer (is it '
                'an HTTP server, on the scheme the URL names?)' % where)
    if isinstance(reason, OSError) and reason.strerror:
        return 'cannot connect to %s: %s' % (where, reason.strerror)
    return 'cannot connect to %s: %s' % (where, reason)


# What a refusal means, and what to change, by status.
REFUSALS = {
    401: 'the location asks for a login: give it in the URL '
         '(http://USER:PASSWORD@HOST/...)',
    403: "the location's Require lines do not allow this client: allow "
         'its address there (Require ip ...)',
    404: 'nothing is there: use the path of the <Location> that has '
         'SetHandler apwsgi-status',
    405: 'GET is not allowed there: that is not an apwsgi status handler',
    503: "the handler has no figures to show: see the server's error log",
}


def _refused(target, code, reason):
    text = '%s answered %d %s' % (target.url, code, reason or '')
    hint = REFUSALS.get(code)
    return '%s: %s' % (text.rstrip(), hint) if hint else text.rstrip()


def _document(target, kind, body):
    """The document in body, or Unavailable saying why it is none."""
    if len(body) > MAX_BODY:
        raise Unavailable('%s answered more than %d MiB: not a status '
                          'document' % (target.url, MAX_BODY >> 20))
    if kind != 'application/json':
        raise Unavailable('%s answered %s, not JSON: that is not an apwsgi '
                          'status handler' % (target.url, kind))
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Unavailable('%s answered a body that is not valid JSON (%s)'
                          % (target.url, exc)) from None
    schema = doc.get('schema') if isinstance(doc, dict) else None
    if schema != SCHEMA:
        found = ('schema %r' % schema) if isinstance(schema, str) else \
            'no schema'
        raise Unavailable('%s answered a JSON document of %s; this apwsgi '
                          'reads %r: use the apwsgi of that server\'s '
                          'version' % (target.url, found, SCHEMA))
    missing = [key for key in MEMBERS if key not in doc]
    if missing:
        raise Unavailable('%s answered a JSON document of schema %r that '
                          'lacks %s' % (target.url, SCHEMA,
                                        ', '.join(missing)))
    return doc


# ---- figures computed from the documents ----

def requests_of(counters):
    return sum(counters['requests_by_class'].values())


def histogram_delta(now, before):
    """The observations of histogram `now` that histogram `before` (an
    earlier read of the same one, or None) did not hold yet."""
    if before is None or before['bounds'] != now['bounds']:
        return now
    return {'sum': max(now['sum'] - before['sum'], 0.0),
            'count': max(now['count'] - before['count'], 0),
            'bounds': now['bounds'],
            'counts': [max(a - b, 0) for a, b in
                       zip(now['counts'], before['counts'], strict=True)]}


def quantile(q, histogram):
    """The q-quantile (0 < q < 1) of a histogram of the document, as
    Prometheus' histogram_quantile() estimates it (linear within a
    bucket); -> (seconds, beyond): seconds None without observations;
    beyond True when it lies past the last bound (seconds is that
    bound then)."""
    bounds, counts = histogram['bounds'], histogram['counts']
    total = sum(counts)
    if total <= 0 or not bounds:
        return None, False
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count > 0 and seen + count >= rank:
            if i >= len(bounds):
                return bounds[-1], True
            lower = bounds[i - 1] if i else 0.0
            return lower + (bounds[i] - lower) * (rank - seen) / count, \
                False
        seen += count
    return bounds[-1], True


def mean(histogram):
    count = histogram['count']
    return histogram['sum'] / count if count > 0 else None
