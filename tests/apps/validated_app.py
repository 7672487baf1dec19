# SPDX-License-Identifier: Apache-2.0
"""Applications wrapped in wsgiref.validate.validator.

WSGIWarning is turned into an error here, so any warning the validator
raises about the server becomes an exception (500) instead of a line on
stderr.  Callables (one per Location /valid/<name>):
  simple    [b'validated simple']
  stream    generator of b'one ', b'two ', b'three'
  post      reads wsgi.input with read(CONTENT_LENGTH) -> sha256 hex
  write     write(b'validated ') then [b'write']
  file      wsgi.file_wrapper(open(this file)) -> this file's bytes
  errors    writes 'validated-errors <QUERY_STRING>\n' to wsgi.errors
  lines     readline(), readlines(), iteration over wsgi.input, as
            b'|'-joined lines
  exc_info  start_response, then again with exc_info: '500 Handled'
"""

import hashlib
import sys
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter('error', WSGIWarning)

PLAIN = [('Content-Type', 'text/plain')]


@validator
def simple(environ, start_response):
    start_response('200 OK', PLAIN)
    return [b'validated simple']


@validator
def stream(environ, start_response):
    start_response('200 OK', PLAIN)
    return iter([b'one ', b'two ', b'three'])


@validator
def post(environ, start_response):
    length = int(environ.get('CONTENT_LENGTH') or 0)
    data = environ['wsgi.input'].read(length)
    start_response('200 OK', PLAIN)
    return [hashlib.sha256(data).hexdigest().encode('ascii')]


@validator
def write(environ, start_response):
    writer = start_response('200 OK', PLAIN)
    writer(b'validated ')
    return [b'write']


@validator
def file(environ, start_response):
    start_response('200 OK', PLAIN)
    return environ['wsgi.file_wrapper'](open(__file__, 'rb'))


@validator
def errors(environ, start_response):
    err = environ['wsgi.errors']
    err.write('validated-errors %s\n' % environ.get('QUERY_STRING', ''))
    err.flush()
    start_response('200 OK', PLAIN)
    return [b'errors written']


@validator
def lines(environ, start_response):
    inp = environ['wsgi.input']
    first = inp.readline()
    second = inp.readlines(1)
    rest = list(inp)
    start_response('200 OK', PLAIN)
    return [b'|'.join([first] + second + rest)]


@validator
def exc_info(environ, start_response):
    start_response('200 OK', PLAIN)
    try:
        raise ValueError('apwsgi-test-validated-exc-info')
    except ValueError:
        start_response('500 Handled', PLAIN, sys.exc_info())
    return [b'handled']
