# SPDX-License-Identifier: Apache-2.0
"""The report of a run: table, ratios, targets, and the JSON file."""

import json
import os
import statistics

from .scenarios import MPMS


def _fmt_rss(rss):
    if not rss or not rss.get('per_child_kib'):
        return '-'
    per = rss['per_child_kib']
    if len(per) == 1:
        return '%.1f' % (per[0] / 1024)
    return '%d: %.1f-%.1f = %.1f' % (len(per), min(per) / 1024,
                                     max(per) / 1024, rss['sum_kib'] / 1024)


def _first_line(text, limit=160):
    """The first line of an error, for the table (the JSON has it all)."""
    line = str(text).splitlines()[0] if text else ''
    return line[:limit]


def _log_flag(problems):
    if not problems:
        return ''
    flags = []
    if problems['crashes']:
        flags.append('CRASH x%d' % len(problems['crashes']))
    if problems['error_count']:
        flags.append('%d error line(s)' % problems['error_count'])
    return '  LOG: ' + ', '.join(flags) if flags else ''


def table(results):
    """The per-contender table, grouped by MPM setting, as text lines."""
    lines = []
    header = ('%-8s %-18s %10s %7s %8s %8s %7s  %s'
              % ('scenario', 'contender', 'req/s', 'spread', 'p50 ms',
                 'p99 ms', 'errors', 'children RSS MiB (n: min-max = sum)'))
    current = None
    for entry in results:
        if entry['mpm_label'] != current:
            current = entry['mpm_label']
            lines += ['', '== %s ==' % current, header]
        summary = entry.get('summary')
        if entry.get('error') or not summary:
            lines.append('%-8s %-18s FAILED: %s' % (
                entry['scenario'], entry['contender'],
                _first_line(entry['error'])))
            continue
        flag = _log_flag(entry.get('log_problems'))
        if summary.get('warmup_errors'):
            # Not in the figures, but worth a look: e.g. the first
            # concurrent requests of a fresh child failing.
            flag += '  WARM-UP: %d error(s)' % summary['warmup_errors']
        if summary.get('accept_queue'):
            # Connections that waited unaccepted mid-round: the figures
            # are those of the connections that were served.
            flag += '  QUEUED: %d' % summary['accept_queue']
        lines.append('%-8s %-18s %10.0f %6.1f%% %8.2f %8.2f %7d  %s%s' % (
            entry['scenario'], entry['contender'], summary['rps'],
            100 * (summary['spread'] or 0), summary['p50_ms'],
            summary['p99_ms'], summary['errors'],
            _fmt_rss(entry.get('rss_after')), flag))
    return lines


def _index(results, value):
    """{(mpm, scenario, contender): value(entry)} of the measured
    entries."""
    return {(e['mpm'], e['scenario'], e['contender']): value(e)
            for e in results if e.get('summary') and not e.get('error')}


def _rps_index(results, field='rps'):
    return _index(results, lambda e: e['summary'][field])


def load_previous(path):
    """The document of a previous result file, or None when absent."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _round_rps(results):
    return _index(results,
                  lambda e: [r['rps'] for r in e.get('rounds') or []])


def _round_ratios(mine, theirs):
    """Round i's ratio, mine[i] / theirs[i], over the rounds both have.

    The contenders' rounds alternate, so round i of each ran within
    seconds of the other's: a drift of the host's speed over the run
    moves both, where it moves the medians of whole columns apart.
    """
    return [a / b for a, b in zip(mine or (), theirs or (), strict=False)
            if b]


def _paired(mine, theirs):
    """The median of the rounds' ratios (_round_ratios), or None."""
    pairs = _round_ratios(mine, theirs)
    return round(statistics.median(pairs), 3) if pairs else None


def _middle_half(mine, theirs):
    """The lower and upper quartiles of the rounds' ratios, or None with
    fewer than 4 rounds: the range that half of the rounds fell in."""
    pairs = _round_ratios(mine, theirs)
    if len(pairs) < 4:
        return None
    q1, _, q3 = statistics.quantiles(pairs, n=4)
    return [round(q1, 3), round(q3, 3)]


def ratios(family, results):
    """subject/reference median req/s for each MPM setting and scenario
    ('ratio'), and the median of their round-by-round ratios
    ('paired')."""
    rps = _rps_index(results)
    rounds = _round_rps(results)
    rows = []
    for (mpm, scenario, subject), value in rps.items():
        if subject not in family.subjects:
            continue
        for reference in family.references:
            other = rps.get((mpm, scenario, reference))
            if other:
                rows.append({'mpm': mpm, 'scenario': scenario,
                             'subject': subject, 'reference': reference,
                             'ratio': round(value / other, 3),
                             'paired': _paired(
                                 rounds[(mpm, scenario, subject)],
                                 rounds[(mpm, scenario, reference)])})
    return rows


def ratio_lines(family, rows, scenarios):
    """Two matrices per MPM, one line per subject/reference pair: the
    ratios of median req/s, and the medians of the rounds' ratios."""
    lines = []
    mpms = []
    for r in rows:
        if r['mpm'] not in mpms:
            mpms.append(r['mpm'])
    for field, title in (('ratio', 'ratios of median req/s'),
                         ('paired', 'medians of the ratios of round i '
                                    'to round i (run back to back)')):
        by_key = {(r['mpm'], r['subject'], r['reference'], r['scenario']):
                  r.get(field) for r in rows}
        for mpm in mpms:
            lines += ['', '%s, %s' % (title, MPMS[mpm].label),
                      '%-34s' % '' + ''.join('%9s' % s for s in scenarios)]
            for subject in family.subjects:
                for reference in family.references:
                    cells = [by_key.get((mpm, subject, reference, s))
                             for s in scenarios]
                    if not any(cells):
                        continue
                    lines.append(
                        '%-34s' % ('%s / %s' % (subject, reference))
                        + ''.join('%9s' % ('%.2fx' % c if c else '-')
                                  for c in cells))
    return lines


def member_rss_lines(results):
    """For pools of interpreters: the RSS each member adds per child."""
    from .contenders import CONTENDERS
    lines = []
    groups = {}
    for e in results:
        contender = CONTENDERS.get(e['contender'])
        rss = e.get('rss_after')
        if contender and contender.members and rss and rss['children']:
            groups.setdefault((e['mpm_label'], e['scenario']), []).append(
                (contender.members, rss['sum_kib'] / rss['children'],
                 e['contender']))
    for (mpm_label, scenario), rows in groups.items():
        base = [r for r in rows if r[0] == 1]
        if not base:
            continue
        lines += ['', 'RSS each pool member adds, per child (%s, %s; after '
                  'the load)' % (scenario, mpm_label)]
        for members, kib, name in sorted(rows):
            if members > 1:
                lines.append('  %-18s %6.1f MiB per member (%.1f MiB per '
                             'child in all)' % (
                                 name, (kib - base[0][1]) / (members - 1)
                                 / 1024, kib / 1024))
    return lines


def evaluate_targets(family, results, idle_rows, previous=None):
    """Each target of the family, met or missed and by how much.

    previous: the document of the family's previous full run, for the
    'previous' targets (None: those are not measured).
    """
    rps = _rps_index(results)
    rounds = _round_rps(results)
    p99 = _rps_index(results, 'p99_ms')
    before = _rps_index(previous['results']) if previous else {}
    measured_mpms = []
    for e in results:
        if e['mpm'] not in measured_mpms:
            measured_mpms.append(e['mpm'])
    idle = {row['contender']: row.get('per_child_kib', [None])[0]
            for row in idle_rows if not row.get('error')
            and row.get('per_child_kib')}
    out = []
    for target in family.targets:
        if target.metric == 'idle_rss':
            out.append(_judge(target, None, idle.get(target.num),
                              idle.get(target.den), 'KiB'))
            continue
        for mpm in ([target.mpm] if target.mpm else measured_mpms):
            cell = (mpm, target.scenario, target.num)
            if target.metric == 'p99':
                out.append(_judge(target, mpm, p99.get(cell), p99.get(
                    (mpm, target.scenario, target.den)), 'ms'))
            elif target.metric == 'previous':
                out.append(_judge(target, mpm, rps.get(cell),
                                  before.get(cell), 'req/s'))
            elif target.den_value is not None:
                out.append(_judge(target, mpm, rps.get(cell),
                                  target.den_value or None, 'req/s'))
            else:
                other = (mpm, target.scenario, target.den)
                row = _judge(target, mpm, rps.get(cell), rps.get(other),
                             'req/s')
                if row['status'] != 'not measured':
                    row['paired'] = _paired(rounds.get(cell),
                                            rounds.get(other))
                    row['middle_half'] = _middle_half(rounds.get(cell),
                                                      rounds.get(other))
                out.append(row)
    return out


def _judge(target, mpm, num, den, unit):
    row = {'target': target.text, 'mpm': mpm, 'scenario': target.scenario,
           'num': target.num, 'den': target.den, 'metric': target.metric,
           'num_value': num, 'den_value': den, 'unit': unit,
           'minimum': target.minimum, 'maximum': target.maximum}
    if not num or not den:
        row.update(status='not measured', ratio=None, by=None)
        return row
    ratio = num / den
    if target.minimum is not None:
        met = ratio >= target.minimum
        by = ratio / target.minimum - 1     # negative: short by this much
    else:
        met = ratio <= target.maximum
        by = target.maximum / ratio - 1     # negative: over by this much
    row.update(status='met' if met else 'missed', ratio=round(ratio, 3),
               by=round(by, 4))
    return row


def target_lines(rows):
    lines = ['', 'targets']
    for row in rows:
        where = ' [%s]' % MPMS[row['mpm']].label if row['mpm'] else ''
        if row['status'] == 'not measured':
            lines.append('  %-8s %s%s: %s or %s not measured' % (
                'n/a', row['target'], where, row['num'], row['den']))
            continue
        limit = ('>= %.2fx' % row['minimum'] if row['minimum'] is not None
                 else '<= %.2fx' % row['maximum'])
        if row['status'] == 'met':
            how = 'margin %+.0f%%' % (100 * row['by'])
        elif row['minimum'] is not None:
            how = 'short by %.0f%%: needs %.2fx its rate' % (
                -100 * row['by'], row['minimum'] / row['ratio'])
        elif row['unit'] == 'KiB':
            how = 'over by %.0f%% (%.1f MiB more)' % (
                100 * (row['ratio'] / row['maximum'] - 1),
                (row['num_value'] - row['den_value'] * row['maximum'])
                / 1024)
        else:
            how = 'over by %.0f%%' % (
                100 * (row['ratio'] / row['maximum'] - 1))
        values = '%s %s vs %s %s' % (
            row['num'], _value(row['num_value'], row['unit']), row['den'],
            _value(row['den_value'], row['unit']))
        lines.append('  %-8s %s%s: %.2fx (%s), %s; %s%s' % (
            row['status'].upper(), row['target'], where, row['ratio'],
            limit, how, values, _round_by_round(row)))
    return lines


def _round_by_round(row):
    """', round by round 0.94x (middle half of the rounds 0.90x-0.98x)'
    target between two contenders of the run, '' otherwise."""
    if row.get('paired') is None:
        return ''
    text = ', round by round %.2fx' % row['paired']
    if row.get('middle_half'):
        text += ' (middle half of the rounds %.2fx-%.2fx)' % tuple(
            row['middle_half'])
    return text


def _value(value, unit):
    if unit == 'KiB':
        return '%.1f MiB' % (value / 1024)
    if unit == 'ms':
        return '%.2f ms' % value
    return '%.0f %s' % (value, unit)


def base_only_pth(meta):
    """The .pth files with imports that apwsgi's Python runs in each of
    its interpreters and the bench venv's Python does not have (by file
    name; see venv.startup_pth())."""
    in_venv = {os.path.basename(p)
               for p in (meta.get('venv') or {}).get('startup_pth', ())}
    return [p for p in meta['apwsgi'].get('startup_pth', ())
            if os.path.basename(p) not in in_venv]


def idle_lines(rows, startup_pth=None):
    """The idle RSS table; startup_pth: base_only_pth(meta)."""
    if not rows:
        return []
    lines = ['', 'idle child RSS after %s requests (event 1x25, one child)'
             % rows[0]['scenario']]
    for row in rows:
        if row.get('error') or not row.get('per_child_kib'):
            lines.append('  %-18s FAILED: %s' % (
                row['contender'], _first_line(row.get('error'))))
        else:
            lines.append('  %-18s %8.1f MiB' % (
                row['contender'], row['per_child_kib'][0] / 1024))
    for pth in startup_pth or ():
        lines.append('  note: apwsgi\'s Python imports what %s names in '
                     'every interpreter; the bench venv has no such file'
                     % pth)
    return lines


def problem_lines(results, idle_rows):
    """The crash and unexpected error lines of every server's log."""
    lines = []
    for entry in list(results) + list(idle_rows):
        problems = entry.get('log_problems') or {}
        shown = problems.get('crashes', []) + problems.get('errors', [])
        if shown:
            lines.append('  %s %s %s (%d error line(s)):' % (
                entry.get('mpm'), entry['scenario'], entry['contender'],
                problems.get('error_count', 0)))
            lines += ['    ' + line[:300] for line in shown[:8]]
    if lines:
        lines = ['', 'log problems (crashes, unexpected error-level lines; '
                 'the JSON has up to 20 of each)'] + lines
    return lines


def write_json(path, document):
    path.write_text(json.dumps(document, indent=1, sort_keys=False) + '\n')
