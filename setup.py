"""apwsgi's Python tooling (python/apwsgi): build facts, a throw-away
Apache for tests, and `python -m apwsgi run-examples`.

The Apache module itself is built with `make`; building it through pip is
not supported yet.
"""

from setuptools import setup

setup(
    name='apwsgi',
    version='0.1.0',
    description='Tooling for apwsgi, an Apache httpd module serving WSGI '
                'applications',
    python_requires='>=3.11',
    package_dir={'': 'python'},
    packages=['apwsgi'],
    package_data={'apwsgi': ['templates/*.in']},
    entry_points={'console_scripts': ['apwsgi = apwsgi.cli:main']},
)
