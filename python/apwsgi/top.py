# SPDX-License-Identifier: Apache-2.0
"""`apwsgi top`: a running server's figures in a terminal, like top(1).

    apwsgi top                                  # http://127.0.0.1/apwsgi-status
    apwsgi top --url http://web1:8080/apwsgi-status --interval 5
    apwsgi top --once                           # one frame on stdout

It reads the status handler's ``?json`` document (status.py) every
interval and shows the totals, the requests in flight (oldest first),
the interpreters and the processes.  Rates, percentiles and CPU use are
computed between two reads; the first frame (and ``--once``) shows the
latencies since the server started and the request rate of the
server's own last step.  Keys: q quits; r, i, p show one panel; a all.

The screen keeps working while the server does not answer: the error
line says why, and the reads go on every interval.  With ``--once`` the
message goes to stderr and the exit status is 1.  Standard library
only (curses, urllib), for hosts that have nothing else.
"""

import argparse
import curses
import dataclasses
import locale
import os
import re
import sys
import textwrap
import threading
import time

from .status import (
    DEFAULT_URL,
    Target,
    Unavailable,
    fetch,
    histogram_delta,
    mean,
    quantile,
)

DEFAULT_INTERVAL = 2.0
DEFAULT_TIMEOUT = 5.0
KEY_POLL_MS = 100       # how often the screen looks for a key
# On a short screen the panel keeps this many lines, and the totals
# give way in this order (the last first): requests, latency, in
# flight, errors, GIL wait, interpreters, bytes.
BODY_MIN = 12
HEAD_PRIORITY = (0, 1, 3, 4, 2, 6, 5)
PANELS = {'a': 'all', 'r': 'requests', 'i': 'interpreters',
          'p': 'processes'}
FRAME_RE = re.compile(r'File "([^"]*)", line (\d+), in (.*)')
# C0 and C1 controls, DEL, and the line and paragraph separators: text
# from the server (a path is any bytes a client sent) must not move the
# cursor or reach the terminal as an escape sequence.
UNSAFE_RE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def add_arguments(parser):
    parser.add_argument(
        '--url', default=os.environ.get('APWSGI_STATUS_URL', DEFAULT_URL),
        help='the status handler (the <Location> with SetHandler '
             'apwsgi-status); default: $APWSGI_STATUS_URL, else %s'
             % DEFAULT_URL)
    parser.add_argument(
        '--interval', type=seconds, default=DEFAULT_INTERVAL,
        metavar='SECONDS',
        help='seconds between two reads (default %g)' % DEFAULT_INTERVAL)
    parser.add_argument(
        '--timeout', type=seconds, default=DEFAULT_TIMEOUT,
        metavar='SECONDS',
        help='give up on a read after this long (default %g)'
             % DEFAULT_TIMEOUT)
    parser.add_argument(
        '--once', action='store_true',
        help='print one frame to stdout and exit (status 1 if the handler '
             'cannot be read)')


def seconds(text):
    """argparse type: a number of seconds, at least 0.1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % text) \
            from None
    if not value >= 0.1 or value == float('inf'):
        raise argparse.ArgumentTypeError('%r: give 0.1 seconds or more'
                                         % text)
    return value


def top(args):
    """The `apwsgi top` command; -> exit status."""
    try:
        target = Target(args.url)
    except ValueError as exc:
        print('apwsgi top: --url: %s' % exc, file=sys.stderr)
        return 2
    if args.once:
        return once(target, args.timeout)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print('apwsgi top: not a terminal: use --once to print one frame',
              file=sys.stderr)
        return 2
    locale.setlocale(locale.LC_ALL, '')
    poller = Poller(target, args.interval, args.timeout)
    poller.start()
    try:
        curses.wrapper(Screen(target, poller).run)
    except KeyboardInterrupt:
        pass
    finally:
        poller.stop()
    return 0


def once(target, timeout):
    """One frame, all of it, on stdout; -> exit status."""
    try:
        doc = fetch(target, timeout)
    except Unavailable as exc:
        print('apwsgi top: %s' % exc, file=sys.stderr)
        return 1
    frame = Frame(target, doc, None)
    text = ''.join(line.text.rstrip() + '\n' for line in
                   frame.head() + [Line('')] + frame.panel('all'))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, grep -m) has all it wanted: no traceback,
        # and no second error when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


# ---- what a frame shows ----

@dataclasses.dataclass
class Line:
    text: str
    style: str = ''     # '', 'title', 'section', 'heading' or 'error'


def safe(text):
    """Server text made harmless for a terminal: controls escaped."""
    return UNSAFE_RE.sub(lambda m: '\\x%02x' % ord(m.group())
                         if ord(m.group()) < 0x100 else
                         '\\u%04x' % ord(m.group()), str(text))


def fmt_seconds(value, beyond=False):
    if value is None:
        return '-'
    prefix = '>' if beyond else ''
    if value < 0.001:
        return '%s%.0fus' % (prefix, value * 1e6)
    if value < 1:
        return '%s%.1fms' % (prefix, value * 1e3)
    return '%s%.2fs' % (prefix, value)


def fmt_quantile(q, histogram):
    return fmt_seconds(*quantile(q, histogram))


def fmt_bytes(n):
    for unit in ('B', 'K', 'M', 'G', 'T'):
        if n < 1024 or unit == 'T':
            return ('%d%s' % (n, unit)) if unit == 'B' else \
                '%.1f%s' % (n, unit)
        n /= 1024.0
    return '-'


def fmt_age(value):
    if value < 60:
        return '%.1fs' % value
    value = int(value)
    if value < 3600:
        return '%dm%02ds' % divmod(value, 60)
    hours, rest = divmod(value, 3600)
    return '%dh%02dm' % (hours, rest // 60)


def fmt_uptime(value):
    value = max(int(value), 0)
    days, value = divmod(value, 86400)
    hours, value = divmod(value, 3600)
    clock = '%d:%02d:%02d' % (hours, value // 60, value % 60)
    return '%dd %s' % (days, clock) if days else clock


def fmt_rate(value):
    return '-' if value is None else '%.1f' % value


def where(stack):
    """'file.py:LINE in function' of the innermost frame of a stack."""
    frames = FRAME_RE.findall(stack or '')
    if not frames:
        return None
    path, line, function = frames[-1]
    return 'at %s:%s in %s' % (os.path.basename(path), line, function)


def table(columns, rows, notes=None):
    """Lines of a table: a heading, then a line per row (and a note
    under the last column of a row, from notes {row index: text}).
    columns: (title, '<' or '>') each; the last one is not padded, so
    the screen cuts it, not the table."""
    notes = notes or {}
    widths = [max([len(title)] + [len(row[i]) for row in rows])
              for i, (title, _) in enumerate(columns)]

    def cells(values):
        out = []
        for i, (value, (_, align)) in enumerate(zip(values, columns,
                                                    strict=True)):
            last = i == len(columns) - 1
            out.append(value if last else
                       value.rjust(widths[i]) if align == '>' else
                       value.ljust(widths[i]))
        return ' '.join(out)
    lines = [Line(cells([title for title, _ in columns]), 'heading')]
    indent = sum(widths[:-1]) + len(widths) - 1
    for i, row in enumerate(rows):
        lines.append(Line(cells(row)))
        if notes.get(i):
            lines.append(Line(' ' * indent + notes[i]))
    return lines


class Frame:
    """What one read shows: `doc` (the status document), and `before`,
    the read before it, for rates; None, or a read of another server
    run, and the frame shows figures since the server started."""

    def __init__(self, target, doc, before):
        self.target = target
        self.doc = doc
        same = (before is not None
                and before['server']['started'] == doc['server']['started']
                and before['time'] < doc['time'])
        self.before = before if same else None
        self.window = doc['time'] - before['time'] if same else None

    def span(self):
        """The window of the rates and latencies, in words."""
        if self.window is None:
            return 'since start'
        return 'last %.1f s' % self.window

    def rate(self, now, before):
        if self.window is None:
            return None
        return max(now - before, 0) / self.window

    def _hist(self, now, before_owner, key):
        before = before_owner[key] if before_owner is not None else None
        return histogram_delta(now[key], before)

    def head(self):
        """The title and the totals."""
        doc, t = self.doc, self.doc['totals']
        bt = self.before['totals'] if self.before else None
        server = doc['server']
        title = 'apwsgi top - %s - %s up %s - %s MPM, Python %s' % (
            self.target.shown, time.strftime('%H:%M:%S',
                                             time.localtime(doc['time'])),
            fmt_uptime(doc['time'] - server['started']),
            safe(server['mpm']), safe(server['python']))
        by_class = t['requests_by_class']
        if bt is not None:
            rate = '%s/s (%s)' % (fmt_rate(self.rate(t['requests'],
                                                     bt['requests'])),
                                  self.span())
        else:
            points = doc['series']['points']
            rate = ('%s/s (last %d s)' % (
                fmt_rate(points[-1]['requests_per_second']),
                doc['series']['step_seconds'])) if points else '-/s'
        duration = self._hist(t, bt, 'duration_seconds')
        gil = self._hist(t, bt, 'gil_wait_seconds')
        workers = t['workers']
        life = t['interpreters']

        def more(key):
            if bt is None or t[key] == bt[key]:
                return ''
            return ' (+%d)' % (t[key] - bt[key])
        lines = [
            Line(title, 'title'),
            Line('Requests:  %d total: %s; %s' % (
                t['requests'], ', '.join('%s %d' % (k, by_class[k]) for k in
                                         ('2xx', '3xx', '4xx', '5xx')),
                rate)),
            Line('Latency:   p50 %s, p99 %s, mean %s (%s)' % (
                fmt_quantile(0.5, duration), fmt_quantile(0.99, duration),
                fmt_seconds(mean(duration)), self.span())),
            Line('GIL wait:  mean %s, p99 %s' % (
                fmt_seconds(mean(gil)), fmt_quantile(0.99, gil))),
            Line('In flight: %d; workers %d busy, %d available of %d; '
                 '%d process%s' % (
                     t['in_flight'], workers['busy'], workers['idle'],
                     workers['threads'], t['processes'],
                     '' if t['processes'] == 1 else 'es')),
            Line('Errors:    %d exception%s%s, %d timeout%s%s' % (
                t['exceptions'], '' if t['exceptions'] == 1 else 's',
                more('exceptions'), t['timeouts'],
                '' if t['timeouts'] == 1 else 's', more('timeouts'))),
            Line('Bytes:     in %s, out %s' % (fmt_bytes(t['bytes_in']),
                                               fmt_bytes(t['bytes_out']))),
            Line('Interps:   %d alive; created %d, reloaded %d, retired %d, '
                 'evicted %d' % (life['alive'], life['created'],
                                 life['reloaded'], life['retired'],
                                 life['evicted'])),
        ]
        return lines

    def requests(self):
        reqs = sorted(self.doc['requests'], key=lambda q: -q['age_seconds'])
        rows = [[fmt_age(q['age_seconds']), safe(q['method']),
                 str(q['pid']), str(q['thread']),
                 safe(q['interpreter']) or '-', safe(q['path'])]
                for q in reqs]
        notes = {i: safe(where(q['stack'])) for i, q in enumerate(reqs)
                 if where(q['stack'])}
        unlisted = self.doc['requests_unlisted']
        title = 'REQUESTS IN FLIGHT (%d), oldest first' % len(reqs)
        if unlisted:
            title += '; %d more not listed' % unlisted
        lines = [Line(title, 'section')] + table(
            [('AGE', '>'), ('METHOD', '<'), ('PID', '>'), ('THREAD', '>'),
             ('INTERPRETER', '<'), ('PATH', '<')], rows, notes)
        return lines + ([] if rows else [Line('none')])

    def interpreters(self):
        before = {i['name']: i for i in self.before['interpreters']} \
            if self.before else {}
        rows = []
        for interp in self.doc['interpreters']:
            old = before.get(interp['name'])
            if self.before is not None and old is None:
                old = _zero(interp)
            duration = self._hist(interp, old, 'duration_seconds')
            gil = self._hist(interp, old, 'gil_wait_seconds')
            rate = self.rate(interp['requests'], old['requests']) \
                if old is not None else None
            rows.append([
                str(interp['life']['alive']), fmt_rate(rate),
                str(interp['requests']),
                str(interp['requests_by_class']['5xx']),
                str(interp['in_flight']), fmt_quantile(0.5, duration),
                fmt_quantile(0.99, duration), fmt_seconds(mean(gil)),
                str(interp['exceptions']), str(interp['timeouts']),
                safe(interp['name'])])
        return [Line('INTERPRETERS (%d), latency %s' % (
            len(rows), self.span()), 'section')] + table(
            [('ALIVE', '>'), ('REQ/S', '>'), ('REQUESTS', '>'),
             ('5XX', '>'), ('INFLT', '>'), ('P50', '>'), ('P99', '>'),
             ('GIL', '>'), ('EXC', '>'), ('TMO', '>'), ('NAME', '<')], rows)

    def processes(self):
        before = {p['pid']: p for p in self.before['processes']} \
            if self.before else {}
        rows = []
        for proc in sorted(self.doc['processes'], key=lambda p: p['pid']):
            cpu = proc['cpu_seconds']['user'] + proc['cpu_seconds']['system']
            old = before.get(proc['pid'])
            share = None
            if old is not None:
                used = cpu - (old['cpu_seconds']['user'] +
                              old['cpu_seconds']['system'])
                share = '%.1f' % (max(used, 0.0) / self.window * 100)
            rows.append([
                str(proc['pid']), str(proc['generation']),
                fmt_uptime(self.doc['time'] - proc['started']),
                '%d/%d' % (proc['busy'], proc['threads']),
                str(proc['interpreters']), str(proc['requests']),
                fmt_bytes(proc['rss_bytes']), share or '-',
                '%.2f' % cpu])
        return [Line('PROCESSES (%d)' % len(rows), 'section')] + table(
            [('PID', '>'), ('GEN', '>'), ('UP', '>'), ('BUSY', '>'),
             ('INTERPS', '>'), ('REQUESTS', '>'), ('RSS', '>'),
             ('CPU%', '>'), ('CPU-S', '<')], rows)

    def sections(self, panel):
        """The sections of a panel ('all' or one of PANELS' values)."""
        if panel == 'all':
            return [self.requests(), self.interpreters(), self.processes()]
        return [getattr(self, panel)()]

    def panel(self, panel):
        """Every line of a panel's sections, a blank line between."""
        lines = []
        for section in self.sections(panel):
            if lines:
                lines.append(Line(''))
            lines += section
        return lines


def _zero(interp):
    """An interpreter's counters as they were before it had any."""
    def zeroed(histogram):
        return {'sum': 0.0, 'count': 0, 'bounds': histogram['bounds'],
                'counts': [0] * len(histogram['counts'])}
    return {'requests': 0,
            'duration_seconds': zeroed(interp['duration_seconds']),
            'gil_wait_seconds': zeroed(interp['gil_wait_seconds'])}


def fit(sections, rows):
    """Cut sections (lists of Lines: a title, a heading, rows) to `rows`
    screen lines in all, a blank line between two; each keeps its title
    and heading while it can, and the room left goes to the rows of the
    sections that need it.  A section cut to 3 rows or more ends with
    a line that says how many it hides."""
    if not sections:
        return []
    room = rows - (len(sections) - 1)
    heads = [min(2, len(s)) for s in sections]
    wants = [len(s) - h for s, h in zip(sections, heads, strict=True)]
    room -= sum(heads)
    if room < 0:
        flat = []
        for section in sections:
            flat += section[:2] + [Line('')]
        return flat[:max(rows, 0)]
    shares = [0] * len(sections)
    # Water-filling: an equal share each, the rest to those that want
    # more.
    pending = [i for i, want in enumerate(wants) if want]
    while room > 0 and pending:
        each = max(room // len(pending), 1)
        for i in list(pending):
            give = min(each, wants[i] - shares[i], room)
            shares[i] += give
            room -= give
            if shares[i] == wants[i]:
                pending.remove(i)
            if room == 0:
                break
    lines = []
    for section, head, share, want in zip(sections, heads, shares, wants,
                                          strict=True):
        if lines:
            lines.append(Line(''))
        body = section[head:]
        if share < want and share >= 3:
            hidden = want - share + 1
            body = body[:share - 1] + [Line(
                '... %d more line%s (r, i, p: one panel)' % (
                    hidden, '' if hidden == 1 else 's'))]
        else:
            # Too short for a line that says so: the title's count does.
            body = body[:share]
        lines += section[:head] + body
    return lines


# ---- the live screen ----

class Poller(threading.Thread):
    """Reads the document every interval in the background, so that keys
    are answered at once while a read waits for the server."""

    def __init__(self, target, interval, timeout):
        super().__init__(daemon=True, name='apwsgi-top-poller')
        self.target = target
        self.interval = interval
        self.timeout = timeout
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reads = 0          # how many reads have ended
        self.doc = None         # the last document read
        self.error = None       # why the last read failed, or None

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                doc, error = fetch(self.target, self.timeout), None
            except Unavailable as exc:
                doc, error = None, str(exc)
            with self.lock:
                self.reads += 1
                self.error = error
                if doc is not None:
                    self.doc = doc
            self.stopping.wait(max(self.interval -
                                   (time.monotonic() - started), 0.05))

    def latest(self):
        """(reads, doc, error) as of now."""
        with self.lock:
            return self.reads, self.doc, self.error

    def stop(self):
        self.stopping.set()


class Screen:
    """The curses loop: draws the latest read; answers keys and
    resizes."""

    def __init__(self, target, poller):
        self.target = target
        self.poller = poller
        self.panel = 'all'
        self.frame = None       # the Frame of the last document
        self.doc = None
        self.error = None

    def run(self, stdscr):
        try:
            curses.curs_set(0)
        except curses.error:
            pass
        stdscr.timeout(KEY_POLL_MS)
        seen = -1
        dirty = True
        while True:
            key = stdscr.getch()
            name = chr(key).lower() if 0 <= key < 256 else None
            if name == 'q':
                return
            if key == curses.KEY_RESIZE or key == 12:   # Ctrl-L: redraw
                stdscr.clear()
                dirty = True
            elif name in PANELS:
                self.panel = PANELS[name]
                dirty = True
            reads, doc, error = self.poller.latest()
            if reads != seen:
                seen = reads
                self.error = error
                if doc is not None and doc is not self.doc:
                    self.frame = Frame(self.target, doc, self.doc)
                    self.doc = doc
                dirty = True
            if dirty:
                self.draw(stdscr)
                dirty = False

    def lines(self, height, width):
        """The lines of a screen of `height` lines and `width` columns:
        the title, the error (whole), the totals that leave the panel
        room, the panel, the keys."""
        if self.frame is None:
            lines = [Line('apwsgi top - %s' % self.target.shown, 'title')]
        else:
            lines = self.frame.head()[:1]
        if self.error:
            message = '%s; retrying every %g s' % (self.error,
                                                   self.poller.interval)
            lines += [Line(text, 'error') for text in
                      textwrap.wrap(message, max(width, 10),
                                    break_on_hyphens=False)]
        if self.frame is None:
            if not self.error:
                lines.append(Line('reading %s ...' % self.target.url))
            return lines[:height]
        if height < 2:
            return lines[:height]
        sections = self.frame.sections(self.panel)
        body = sum(len(s) for s in sections) + len(sections) - 1
        totals = self.frame.head()[1:]
        room = height - 1 - len(lines) - 1 - min(body, BODY_MIN)
        keep = sorted(HEAD_PRIORITY[:max(room, 0)])
        lines += [totals[i] for i in keep] + [Line('')]
        lines += fit(sections, height - 1 - len(lines))
        lines = lines[:height - 1]
        return lines + [Line('')] * (height - 1 - len(lines)) + [Line(
            'q quit  a all  r requests  i interpreters  p processes',
            'heading')]

    def draw(self, stdscr):
        height, width = stdscr.getmaxyx()
        stdscr.erase()
        styles = {'title': curses.A_BOLD, 'section': curses.A_BOLD,
                  'heading': curses.A_REVERSE,
                  'error': curses.A_REVERSE | curses.A_BOLD, '': 0}
        for y, line in enumerate(self.lines(height, width)):
            text = line.text[:width]
            if line.style in ('heading', 'error'):
                text = text.ljust(width)
            try:
                # The bottom right cell cannot be written without
                # moving the cursor past the screen: curses raises then,
                # after drawing the rest.
                stdscr.addstr(y, 0, text, styles[line.style])
            except curses.error:
                pass
        stdscr.refresh()
