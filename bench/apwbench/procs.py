"""Process facts read from /proc: children, resident memory, load."""


from apwsgi.apache import live_pids


def children_of(ppid):
    """Pids of the live (not zombie) children of ppid, sorted."""
    return live_pids(ppid=ppid)


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_of(pids):
    """{'per_child_kib': [...], 'sum_kib': N, 'children': n} for pids."""
    values = [v for v in (rss_kib(pid) for pid in pids) if v is not None]
    return {'children': len(values), 'per_child_kib': values,
            'sum_kib': sum(values)}


def loadavg():
    """The 1-minute load average (a noise indicator), or None."""
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
