"""Script file two/app.wsgi (same basename as one/app.wsgi).

Endpoints: any path -> b'script two <__name__>'.
"""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('script two %s' % __name__).encode('ascii')]
