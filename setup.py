# SPDX-License-Identifier: Apache-2.0
"""apwsgi: the Apache module (mod_apwsgi.so) and its tooling, for pip.

`pip install .` builds mod_apwsgi.so against the Python that runs pip, with
the Makefile's own compile (apxs flags, that Python's sysconfig), and ships
it inside the package as apwsgi/mod_apwsgi.so.  `apwsgi module-config`
then prints its LoadModule line, and `apwsgi serve` runs an application
with it.  Building needs apxs: apache2-dev (Debian/Ubuntu) or httpd-devel
(Fedora/RHEL).
"""

import os
import sys

import setuptools
from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'python'))
from apwsgi import __version__  # noqa: E402
from apwsgi import build as apwsgi_build  # noqa: E402
from apwsgi.build import MODULE_NAME  # noqa: E402

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Environment :: Web Environment',
    'Operating System :: POSIX :: Linux',
    'Programming Language :: C',
    'Programming Language :: Python :: 3',
    'Programming Language :: Python :: Implementation :: CPython',
    'Topic :: Internet :: WWW/HTTP :: WSGI :: Server',
]


def license_metadata():
    """Apache-2.0 (httpd's and mod_wsgi's license).  setuptools 77+
    takes an SPDX expression (PEP 639) and deprecates the License
    classifier; older ones take the License field and the classifier."""
    major = int(setuptools.__version__.split('.')[0])
    if major >= 77:
        return {'license_expression': 'Apache-2.0',
                'license_files': ['LICENSE', 'NOTICE'],
                'classifiers': CLASSIFIERS}
    return {'license': 'Apache-2.0',
            'license_files': ['LICENSE', 'NOTICE'],
            'classifiers': CLASSIFIERS + [
                'License :: OSI Approved :: Apache Software License']}


class BuildPyWithModule(build_py):
    """build_py, then `make all` into build_temp and copy the module into
    the package (the wheel, or python/apwsgi for an editable install)."""

    def run(self):
        super().run()
        build_temp = self.get_finalized_command('build').build_temp
        try:
            module = apwsgi_build.compile_module(
                HERE, os.path.join(build_temp, 'mod_apwsgi'))
        except apwsgi_build.BuildError as exc:
            raise ExecError(str(exc)) from None
        if getattr(self, 'editable_mode', False):
            target = os.path.join(HERE, 'python', 'apwsgi')
        else:
            target = os.path.join(self.build_lib, 'apwsgi')
        self.mkpath(target)
        self.copy_file(module, os.path.join(target, MODULE_NAME),
                       preserve_mode=False)
        os.chmod(os.path.join(target, MODULE_NAME), 0o755)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, 'apwsgi', MODULE_NAME)]


class BinaryDistribution(Distribution):
    """The wheel holds a shared object linked to one libpython: tag it for
    this Python and platform, not as pure Python."""

    def has_ext_modules(self):
        return True


setup(
    name='apwsgi',
    version=__version__,
    description='An Apache httpd module serving WSGI applications, '
                'configured with SetEnv; with an `apwsgi serve` launcher',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.11',
    package_dir={'': 'python'},
    packages=['apwsgi'],
    package_data={'apwsgi': ['templates/*.in']},
    entry_points={'console_scripts': ['apwsgi = apwsgi.cli:main']},
    cmdclass={'build_py': BuildPyWithModule},
    distclass=BinaryDistribution,
    zip_safe=False,
    **license_metadata(),
)
