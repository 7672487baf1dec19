# SPDX-License-Identifier: Apache-2.0
"""django: a Django view rendering a small template; no database.

Endpoint: GET /django/items/<int:item_id>?q=... with an X-Bench-Client
header -> 200 text/html, about 1 KB: the template templates/page.html
with the item, the query, the header and a list of ten rows (a loop, a
cycle, filters).  The settings are those of a small site without a
database: the security and common middleware (which sets
Content-Length), the cached template loader (DEBUG off).

The Apache contenders mount it at /django; the peer servers serve it at
the root, where the path keeps its /django prefix, so the URL is
registered under both.
"""

import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.shortcuts import render
from django.urls import path

ROWS = [{'name': 'row %d' % i, 'value': i * 1.25} for i in range(10)]


def item(request, item_id):
    return render(request, 'page.html', {
        'title': 'item page', 'item': item_id,
        'q': request.GET.get('q', ''),
        'client': request.headers.get('X-Bench-Client', 'none'),
        'rows': ROWS})


class URLConf:
    """ROOT_URLCONF: an object with urlpatterns (hashable, unlike a
    namespace), so this file needs no importable module name."""

    urlpatterns = [path(prefix + 'items/<int:item_id>', item)
                   for prefix in ('', 'django/')]


settings.configure(
    DEBUG=False,
    SECRET_KEY='apwsgi-bench-not-secret',
    ALLOWED_HOSTS=['*'],
    ROOT_URLCONF=URLConf,
    DATABASES={},
    INSTALLED_APPS=[],
    MIDDLEWARE=['django.middleware.security.SecurityMiddleware',
                'django.middleware.common.CommonMiddleware'],
    TEMPLATES=[{
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              'templates')],
    }],
    USE_TZ=True,
)
django.setup()

application = get_wsgi_application()
