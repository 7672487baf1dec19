"""Script file one/app.wsgi (same basename as two/app.wsgi).

Endpoints: any path -> b'script one <__name__>'; callable `alternative`
-> b'script one alternative'.
"""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('script one %s' % __name__).encode('ascii')]


def alternative(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'script one alternative']
