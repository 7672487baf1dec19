# SPDX-License-Identifier: Apache-2.0
"""The PNG bar chart of a result file: python chart.py RESULT.json OUT.png

One panel per MPM setting and scenario, one bar per contender (median
req/s, with the range over rounds as an error bar).  Runs under any
Python that has matplotlib (the bench venv has it), so it imports
nothing else from the harness.
"""

import json
import sys

COLORS = {'apwsgi': '#1f77b4', 'mod_wsgi': '#ff7f0e', 'gunicorn': '#2ca02c',
          'granian': '#d62728', 'uwsgi': '#8c564b', 'static': '#7f7f7f',
          'ceiling': '#404040'}


def _color(name):
    for prefix, color in COLORS.items():
        if name.startswith(prefix):
            return color
    return '#9467bd'


def draw(document, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    results = [e for e in document['results'] if e.get('summary')]
    mpms, scenarios = [], []
    for e in results:
        if e['mpm_label'] not in mpms:
            mpms.append(e['mpm_label'])
        if e['scenario'] not in scenarios:
            scenarios.append(e['scenario'])
    if not results:
        raise SystemExit('chart: no measured results in the file')
    fig, axes = plt.subplots(len(mpms), len(scenarios), squeeze=False,
                             figsize=(3.2 * len(scenarios),
                                      2.9 * len(mpms) + 0.8))
    for row, mpm in enumerate(mpms):
        for col, scenario in enumerate(scenarios):
            ax = axes[row][col]
            cell = [e for e in results if e['mpm_label'] == mpm
                    and e['scenario'] == scenario]
            names = [e['contender'] for e in cell]
            medians = [e['summary']['rps'] for e in cell]
            lows = [m - min(r['rps'] for r in e['rounds'])
                    for m, e in zip(medians, cell, strict=True)]
            highs = [max(r['rps'] for r in e['rounds']) - m
                     for m, e in zip(medians, cell, strict=True)]
            ax.bar(range(len(cell)), medians, color=[_color(n)
                                                     for n in names],
                   yerr=[lows, highs], capsize=2)
            ax.set_xticks(range(len(cell)))
            ax.set_xticklabels(names, rotation=60, ha='right', fontsize=7)
            ax.tick_params(axis='y', labelsize=7)
            ax.set_title('%s, %s' % (scenario, mpm), fontsize=9)
            for x, value in enumerate(medians):
                ax.annotate('%.0f' % value, (x, value), ha='center',
                            va='bottom', fontsize=6)
            if col == 0:
                ax.set_ylabel('req/s (median)', fontsize=8)
    meta = document.get('meta', {})
    fig.suptitle('apwsgi benchmark (%s), %s, %s; %s' % (
        meta.get('family', ''), meta.get('date', ''),
        meta.get('machine', {}).get('cpu', ''), meta.get('label', '')),
        fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv):
    if len(argv) != 3:
        raise SystemExit('usage: chart.py RESULT.json OUT.png')
    with open(argv[1]) as f:
        draw(json.load(f), argv[2])


if __name__ == '__main__':
    main(sys.argv)
