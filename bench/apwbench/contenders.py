# SPDX-License-Identifier: Apache-2.0
"""The contenders: how each one is configured and started.

Every Apache contender runs the same Apache binary with the same
generated main config (bench/conf/httpd.conf.in) and MPM setting; only
the few lines below that mount the scenario differ.  gunicorn, granian
and uWSGI do not use Apache, so their numbers do not depend on the MPM
setting: a run measures them in the first MPM setting only (see
runner.py).  Neither does a contender with an MPM setting of its own
(apwsgi-prefork2, apwsgi-worker): it is measured there too, alternating
with the others, so that its ratio to them is taken under the same
conditions.
"""

import dataclasses

from . import APPS
from .scenarios import MPMS
from .servers import BenchApache, GranianServer, GunicornServer, UwsgiServer

WSGI = 'wsgi'
CEILING = 'ceiling'


@dataclasses.dataclass(frozen=True)
class Contender:
    name: str
    kind: str               # apwsgi, mod_wsgi, gunicorn, granian, uwsgi,
                            # static, ceiling
    description: str
    role: str = WSGI        # wsgi: runs the app; ceiling: Apache alone
    setenv: tuple = ()      # apwsgi: extra (key, value) SetEnv pairs
    worker_class: str = ''  # gunicorn
    threads: int = 1        # gunicorn threads per worker
    mpm: str | None = None  # an MPM setting of its own (a key of MPMS)
    module: str = 'main'    # apwsgi: 'main' (--module) or 'compare'
    schedule: bool = False  # Apache alone: its children placed as
                            # apwsgi places its own (a CPU each, batch)

    @property
    def needs_venv(self):
        return self.kind in PEERS or self.kind == 'mod_wsgi'

    @property
    def uses_apache(self):
        return self.kind not in PEERS

    @property
    def mpm_independent(self):
        """Whether its figures do not depend on the run's MPM setting."""
        return not self.uses_apache or self.mpm is not None

    @property
    def server_header(self):
        """What its Server header must contain, or None (uWSGI sends
        none)."""
        return {'gunicorn': 'gunicorn', 'granian': 'granian',
                'uwsgi': None}.get(self.kind, 'Apache')

    @property
    def members(self):
        """Interpreters in the pool (mod_wsgi.interpreters), or None."""
        return int(dict(self.setenv).get('mod_wsgi.interpreters', 0)) or None

    def applies(self, scenario):
        """Whether this contender has a meaningful answer to scenario."""
        if self.kind == 'ceiling':
            return scenario.c_ceiling
        if self.kind == 'static':
            return scenario.static is not None
        return True


# Servers that are not Apache, started from the bench venv.
PEERS = ('gunicorn', 'granian', 'uwsgi')
GUNICORN_WORKERS = 2
GRANIAN_WORKERS = 2
UWSGI_PROCESSES = 2

CONTENDERS = {c.name: c for c in (
    Contender('apwsgi-main', 'apwsgi', 'apwsgi, main interpreter'),
    Contender('apwsgi-sub', 'apwsgi',
              'apwsgi, named sub-interpreter "bench"',
              setenv=(('mod_wsgi.interpreter', 'bench'),)),
    Contender('mod_wsgi', 'mod_wsgi', 'mod_wsgi (PyPI), embedded mode, '
              'WSGIApplicationGroup %{GLOBAL}'),
    Contender('gunicorn-sync', 'gunicorn',
              'gunicorn, %d sync workers' % GUNICORN_WORKERS,
              worker_class='sync'),
    Contender('gunicorn-gthread', 'gunicorn',
              'gunicorn, %d gthread workers x 4 threads' % GUNICORN_WORKERS,
              worker_class='gthread', threads=4),
    Contender('granian', 'granian', 'granian, WSGI interface, %d workers'
              % GRANIAN_WORKERS),
    Contender('uwsgi', 'uwsgi', 'uWSGI (pyuwsgi), %d processes x 1 thread, '
              '--http11-socket' % UWSGI_PROCESSES),
    Contender('apwsgi-prefork2', 'apwsgi', 'apwsgi, main interpreter, '
              'under prefork with 2 processes (no threads)',
              mpm='prefork2'),
    Contender('apwsgi-worker', 'apwsgi', 'apwsgi, main interpreter, '
              'under the worker MPM with 2 x 25 threads (a thread keeps '
              'its connection between requests)', mpm='worker'),
    Contender('apwsgi-unpinned', 'apwsgi', 'apwsgi, main interpreter, '
              'mod_wsgi.cpu_affinity off (the kernel places every thread)',
              setenv=(('mod_wsgi.cpu_affinity', 'off'),)),
    Contender('apwsgi-nobatch', 'apwsgi', 'apwsgi, main interpreter, '
              'mod_wsgi.sched_batch off (the normal scheduling policy)',
              setenv=(('mod_wsgi.sched_batch', 'off'),)),
    Contender('apwsgi-walk', 'apwsgi', 'apwsgi, main interpreter, '
              "mod_wsgi.map_to_storage unset (Apache's file-system walk)",
              setenv=(('mod_wsgi.map_to_storage', None),)),
    Contender('apwsgi-compare', 'apwsgi', 'apwsgi, main interpreter, the '
              'module given with --compare-module (A/B)',
              module='compare'),
    Contender('static', 'static', "Apache's static-file handler, the same "
              'bytes (json: the same size)', role=CEILING),
    Contender('ceiling', 'ceiling', 'mod_ceiling, a minimal C handler '
              '(ap_rwrite of 12 bytes), its children placed and scheduled '
              'as apwsgi places its own (a CPU each, SCHED_BATCH, where '
              'there is a child per CPU)', role=CEILING, schedule=True),
    Contender('ceiling-plain', 'ceiling', 'mod_ceiling, the minimal C '
              'handler, in Apache as it ships (the kernel places every '
              'thread, normal policy)', role=CEILING),
    # The interp family: pools of named interpreters.
    Contender('apwsgi-shared-1', 'apwsgi',
              'apwsgi, 1 interpreter "cpu", shared GIL',
              setenv=(('mod_wsgi.interpreter', 'cpu'),
                      ('mod_wsgi.interpreters', '1'))),
    Contender('apwsgi-own-pool-2', 'apwsgi',
              'apwsgi, pool of 2 interpreters "cpu", own GIL',
              setenv=(('mod_wsgi.interpreter', 'cpu'),
                      ('mod_wsgi.interpreters', '2'),
                      ('mod_wsgi.gil', 'own'))),
    Contender('apwsgi-own-pool-4', 'apwsgi',
              'apwsgi, pool of 4 interpreters "cpu", own GIL',
              setenv=(('mod_wsgi.interpreter', 'cpu'),
                      ('mod_wsgi.interpreters', '4'),
                      ('mod_wsgi.gil', 'own'))),
)}

PROBE_APP = APPS / 'probe.py'


def _quote(value):
    return '"%s"' % str(value).replace('\\', '\\\\').replace('"', '\\"')


def apwsgi_config(contender, scenario, venv):
    blocks = []
    for path, app in (('/probe', PROBE_APP), (scenario.path,
                                              scenario.app_path)):
        lines = ['<Location %s>' % path, '    SetHandler mod_wsgi',
                 '    SetEnv mod_wsgi.application %s' % _quote(app)]
        if scenario.venv_app:
            # The framework from the bench venv, as every contender.
            lines.append('    SetEnv mod_wsgi.virtualenv %s'
                         % _quote(venv.path))
        # Every apwsgi contender skips Apache's file-system walk, as the
        # docs advise for a <Location> only the application serves;
        # apwsgi-walk keeps it (the key's default).
        setenv = dict((('mod_wsgi.map_to_storage', 'off'),)
                      + contender.setenv)
        lines += ['    SetEnv %s %s' % (key, _quote(value))
                  for key, value in setenv.items() if value is not None]
        blocks.append('\n'.join(lines + ['</Location>']))
    return '\n'.join(blocks) + '\n'


def mod_wsgi_config(scenario, venv):
    lines = list(venv.mod_wsgi_config)      # LoadModule, WSGIPythonHome
    lines += [
        # As mod_wsgi-express does for its sendfile option.
        'WSGIEnableSendfile On',
        '<Directory %s>' % _quote(APPS), '    Require all granted',
        '</Directory>',
        'WSGIApplicationGroup %{GLOBAL}',
        'WSGIScriptAlias /probe %s' % _quote(PROBE_APP),
        'WSGIScriptAlias %s %s' % (scenario.path, _quote(scenario.app_path)),
    ]
    return '\n'.join(lines) + '\n'


def static_config(scenario, static_dir):
    return '\n'.join([
        'Alias %s %s' % (scenario.path, _quote(static_dir / scenario.static)),
        '<Directory %s>' % _quote(static_dir), '    Require all granted',
        '</Directory>']) + '\n'


def ceiling_config(scenario, ceiling_module):
    return '\n'.join([
        'LoadModule ceiling_module %s' % _quote(ceiling_module),
        '<Location %s>' % scenario.path, '    SetHandler ceiling',
        '</Location>']) + '\n'


def make_server(contender, mpm, scenario, ctx, root):
    """A server (not started) for contender serving scenario.

    ctx is the runner's RunContext: module paths, the venv, the data
    directories and the environment every server gets.
    """
    app = scenario.app[:-3] + ':application'
    if contender.kind == 'gunicorn':
        return GunicornServer(
            ctx.venv.bin / 'gunicorn', APPS, app, root,
            workers=GUNICORN_WORKERS, worker_class=contender.worker_class,
            threads=contender.threads, env=ctx.server_env)
    if contender.kind == 'granian':
        return GranianServer(ctx.venv.bin / 'granian', APPS, app, root,
                             workers=GRANIAN_WORKERS, env=ctx.server_env)
    if contender.kind == 'uwsgi':
        return UwsgiServer(ctx.venv.bin / 'uwsgi', APPS, app, root,
                           workers=UWSGI_PROCESSES, env=ctx.server_env)
    module = None
    if contender.mpm:
        mpm = MPMS[contender.mpm]
    if contender.kind == 'apwsgi':
        config = apwsgi_config(contender, scenario, ctx.venv)
        module = (ctx.compare_module if contender.module == 'compare'
                  else ctx.module)
    elif contender.kind == 'mod_wsgi':
        config = mod_wsgi_config(scenario, ctx.venv)
    elif contender.kind == 'static':
        config = static_config(scenario, ctx.static_dir)
    elif contender.kind == 'ceiling':
        config = ceiling_config(scenario, ctx.ceiling_module)
    else:
        raise ValueError('unknown contender kind %r' % contender.kind)
    return BenchApache(module, config, mpm=mpm.mpm,
                       processes=mpm.processes, threads=mpm.threads,
                       root=root, env=ctx.server_env,
                       schedule=contender.schedule)
