# SPDX-License-Identifier: Apache-2.0
"""Responses: status, headers, Content-Length, chunking, streaming, HEAD,
Set-Cookie, write(), file_wrapper, concurrency and the GIL."""

import concurrent.futures
import os
import socket
import time

import pytest

import support
import wire
from support import sha256

MIB = 1024 * 1024


def test_single_item_list_gets_content_length(http, url):
    """The module sets the Content-Length of a list.  On a GET Apache's
    content-length filter would add one anyway (it sees the whole body
    at once); on a HEAD it sees no body and adds none, so there the
    header can only be the module's."""
    r = http.get(url('/response/single'))
    assert r.status_code == 200
    assert r.reason == 'OK'
    assert r.content == b'hello world'
    assert r.headers['Content-Length'] == '11'
    assert 'Transfer-Encoding' not in r.headers
    assert r.headers['Content-Type'] == 'text/plain'
    assert r.headers['X-Single'] == 'yes'
    head = http.head(url('/response/single'))
    assert (head.status_code, head.content) == (200, b'')
    assert head.headers['Content-Length'] == '11'
    assert 'Transfer-Encoding' not in head.headers


def test_application_content_length_honoured(http, url):
    r = http.get(url('/response/single-cl'))
    assert r.content == b'hello world'
    assert r.headers['Content-Length'] == '11'
    assert 'Transfer-Encoding' not in r.headers


def test_many_items(http, url):
    r = http.get(url('/response/list?n=500'))
    assert r.status_code == 200
    assert r.content == b''.join(b'line %d\n' % i for i in range(500))


def test_generator_is_chunked(http, url):
    r = http.get(url('/response/generator'))
    assert r.content == b'one\ntwo\nthree\n'
    assert r.headers['Transfer-Encoding'] == 'chunked'
    assert 'Content-Length' not in r.headers


def test_generator_with_content_length_not_chunked(http, url):
    r = http.get(url('/response/generator-cl'))
    assert r.content == b'one\ntwo\nthree\n'
    assert r.headers['Content-Length'] == '14'
    assert 'Transfer-Encoding' not in r.headers


def test_generator_http10_client(server):
    data = support.raw_request(server, b'GET /response/generator HTTP/1.0\r\n'
                               b'Host: 127.0.0.1\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    assert head.split(b'\r\n')[0] == b'HTTP/1.1 200 OK'
    assert b'transfer-encoding' not in head.lower()
    assert body == b'one\ntwo\nthree\n'


def test_streaming_first_block_before_second(http, url, state):
    """The app yields its second block only after the client got the first:
    a module that buffers blocks makes the first read time out."""
    tok = support.token()
    with http.get(url('/response/stream?token=' + tok), stream=True,
                  timeout=(5, 5)) as r:
        assert r.status_code == 200
        assert r.headers['Transfer-Encoding'] == 'chunked'
        blocks = r.iter_content(chunk_size=None)
        assert next(blocks) == b'first block\n'
        (state / ('stream-' + tok)).write_text('go')
        assert b''.join(blocks) == b'second block\n'


def _read_until(sock, data, needle):
    """Read from sock (its timeout bounds each read) until data holds
    needle; -> data.  Fails when the server closes first."""
    while needle not in data:
        chunk = sock.recv(65536)
        assert chunk, 'connection closed before %r arrived' % needle[:20]
        data += chunk
    return data


@pytest.mark.parametrize('size', [12, 3000, 8192, 20000, 70000])
@pytest.mark.parametrize('how', ['iterate', 'content-length', 'write'])
def test_streaming_block_sizes_arrive_before_the_next(server, state, size,
                                                      how):
    """Whatever the size of the first block (under or over the size from
    which Apache's core filter writes without a flush, under or over what
    the module passes while keeping the GIL), and whether it comes from
    the iterable, with a Content-Length, or through write(), the client
    gets it all before the app makes the second block."""
    tok = support.token()
    first = (b'first block ' * (size // 12 + 1))[:size]   # the app's
    query = '/response/stream?token=%s&size=%d' % (tok, size)
    query += {'iterate': '', 'content-length': '&cl=1',
              'write': '&write=1'}[how]
    with socket.create_connection((server.host, server.port),
                                  timeout=5) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                     b'Connection: close\r\n\r\n' % query.encode())
        data = _read_until(sock, b'', first[-100:])
        assert b'second block' not in data
        (state / ('stream-' + tok)).write_text('go')
        data = _read_until(sock, data, b'second block\n')
        data += support.read_until_close(sock)
    response = wire.parse_response(data)
    assert response.status == 200 and response.complete
    assert response.body == first + b'second block\n'
    if how == 'content-length':
        assert response.header('Content-Length') == [b'%d' % (size + 13)]
    else:
        assert response.header('Transfer-Encoding') == [b'chunked']


def test_head_same_headers_no_body(http, url):
    get = http.get(url('/response/head'))
    head = http.head(url('/response/head'))
    assert (get.status_code, head.status_code) == (200, 200)
    assert get.content == b'head body'
    assert head.content == b''
    assert get.headers['X-Method'] == 'GET'
    assert head.headers['X-Method'] == 'HEAD'
    assert head.headers['Content-Type'] == get.headers['Content-Type']
    assert head.headers['Content-Length'] == get.headers['Content-Length'] \
        == '9'


def test_head_with_application_content_length(http, url):
    head = http.head(url('/response/single-cl'))
    assert head.status_code == 200
    assert head.headers['Content-Length'] == '11'
    assert head.content == b''


def test_head_generator_no_body(server):
    data = support.raw_request(
        server, b'HEAD /response/head-generator HTTP/1.1\r\n'
                b'Host: 127.0.0.1\r\nConnection: close\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200 OK\r\n')
    assert b'\r\nX-Method: HEAD' in head
    assert body == b''


def test_two_set_cookie_headers(http, url):
    r = http.get(url('/response/cookies'))
    assert r.raw.headers.getlist('Set-Cookie') == ['a=1; Path=/',
                                                   'b=2; Path=/']
    assert r.cookies.get('a') == '1' and r.cookies.get('b') == '2'


@pytest.mark.parametrize('status', [
    '201 Created', '299 Custom Reason Phrase', "418 I'm a teapot",
    '404 Not Found', '503 Service Unavailable', '200 Fine Thanks'])
def test_status_line_exact(http, url, status):
    r = http.get(url('/response/status'), params={'s': status})
    assert '%d %s' % (r.status_code, r.reason) == status
    assert r.content == b'status body'


def test_status_204_no_body(http, url):
    r = http.get(url('/response/status'), params={'s': '204 No Content'})
    assert (r.status_code, r.reason, r.content) == (204, 'No Content', b'')


def test_header_values_exact(server):
    data = support.raw_request(server, b'GET /response/headers HTTP/1.1\r\n'
                               b'Host: 127.0.0.1\r\nConnection: close\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    assert b'X-Spaces: a  b  c' in lines
    assert b'X-Latin: caf\xe9' in lines
    assert any(line.rstrip() == b'X-Empty:' for line in lines)
    assert b'Content-Type: text/x-apwsgi; charset=iso-8859-1' in lines
    assert body == b'headers'


@pytest.mark.expect_log('APW00304')
def test_response_shorter_than_content_length(server, log):
    """The client never gets what looks like a complete 200 response: either
    the connection is cut inside the body, or (nothing sent yet) an error
    status on a closed connection."""
    status, headers, body = support.raw_get(server, '/response/cl-short')
    if status == b'HTTP/1.1 200 OK':
        assert b'Content-Length: 100' in headers
        assert body == b'only ten!!'
    else:
        assert status.split()[1].startswith(b'5'), status
        assert b'Connection: close' in headers
        assert b'only ten!!' not in body
    log.wait('/response/cl-short', tag='APW00304')


@pytest.mark.expect_log('APW00304')
def test_response_shorter_not_reported_as_client_gone(server, log):
    support.raw_get(server, '/response/cl-short')
    log.wait('/response/cl-short', tag='APW00304')
    assert log.tagged('APW00305', '/response/cl-short') == []


@pytest.mark.parametrize('query', ['', '?case=other'])
def test_response_longer_than_content_length(http, url, log, query):
    """The module keeps to the Content-Length it was given, whatever the
    case of the header's name."""
    r = http.get(url('/response/cl-long' + query))
    assert r.content == b'01234'
    assert r.headers['Content-Length'] == '5'
    assert r.headers['Content-Type'] == 'text/x-apwsgi'
    line, = log.wait('/response/cl-long', tag='APW00306')
    assert ':warn' in line


def test_write_callable(http, url):
    assert http.get(url('/response/write')).content == b'abcdef'
    assert http.get(url('/response/write-iter')).content == b'abcdef'


def test_kept_start_response_and_write_raise_later(http, url):
    """An application that keeps start_response and write past its
    request gets RuntimeError from both in a later one, and that request
    has a start_response of its own (never the kept one, which the
    interpreter may not reuse while the application holds it)."""
    assert http.get(url('/response/keep')).content == b'kept'
    for _ in range(3):
        r = http.get(url('/response/use-kept'))
        assert r.status_code == 200
        assert r.json() == {
            'write': 'RuntimeError: write() called after the response '
                     'ended',
            'start_response': 'RuntimeError: start_response() called '
                              'after its request ended',
            'same': False}


def test_start_response_reused_across_requests(http, url):
    """A start_response and its write that no one holds after the
    request serve a later one of the same interpreter: one keep-alive
    connection, requests one at a time, so each finds the one the last
    left."""
    ids = [http.get(url('/response/ids')).json() for _ in range(5)]
    assert all(i == ids[0] for i in ids[1:]), ids


def test_empty_iterables(http, url):
    r = http.get(url('/response/empty'))
    assert (r.status_code, r.content) == (200, b'')
    r = http.get(url('/response/empties'))
    assert (r.status_code, r.content) == (200, b'ab')


@pytest.mark.parametrize('query', ['mb=8', 'mb=8&cl=1'])
def test_large_response(http, url, query):
    r = http.get(url('/response/large?' + query))
    assert len(r.content) == 8 * MIB
    assert sha256(r.content) == sha256(support.pattern_block() * 128)
    if 'cl=1' in query:
        assert r.headers['Content-Length'] == str(8 * MIB)


@pytest.fixture(scope='module')
def data_file(server):
    data = os.urandom(300 * 1024 + 123)
    name = 'file-%s.bin' % support.token()
    path = server.state_dir / name
    path.write_bytes(data)
    path.chmod(0o644)
    return name, data


@pytest.mark.parametrize('query', ['pos=0', 'pos=1000', 'pos=1000&cl=1',
                                   'pos=5&blksize=1000', 'pos=END'])
def test_file_wrapper_real_file(http, url, data_file, query):
    name, data = data_file
    query = query.replace('END', str(len(data)))
    pos = int(query.split('pos=')[1].split('&')[0])
    r = http.get(url('/response/file?name=%s&%s' % (name, query)))
    assert r.status_code == 200
    assert len(r.content) == len(data) - pos
    assert r.content == data[pos:]
    if 'cl=1' in query:
        assert r.headers['Content-Length'] == str(len(data) - pos)


@pytest.mark.expect_log('APW00301')
def test_file_wrapper_does_not_trust_fileno(http, url, data_file, log):
    """An object that merely has fileno() is read through its read(), not
    sent from its descriptor: read() here raises, so the client gets
    500."""
    name, data = data_file
    r = http.get(url('/response/fileno-only?name=%s&pos=0' % name))
    assert r.status_code == 500
    log.wait('/response/fileno-only', tag='APW00301')
    assert log.tagged('APW00301', 'read() of a real file was called')


@pytest.fixture(scope='module')
def packed_files(server, data_file):
    """data_file's bytes gzip'ed, bz2'ed and as the tar member
    'member.bin' (after another member), in the state directory:
    {kind: name}."""
    import bz2
    import gzip
    import io
    import tarfile
    name, data = data_file
    names = {}
    for kind, pack in (('gzip', gzip.compress), ('bz2', bz2.compress)):
        names[kind] = '%s.%s' % (name, kind)
        (server.state_dir / names[kind]).write_bytes(pack(data))
    names['tar'] = name + '.tar'
    with tarfile.open(server.state_dir / names['tar'], 'w') as tar:
        for member, content in (('first.bin', b'f' * 5000),
                                ('member.bin', data)):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    for value in names.values():
        (server.state_dir / value).chmod(0o644)
    return names


@pytest.mark.parametrize('kind', ['gzip', 'bz2', 'tar'])
def test_file_wrapper_sends_what_the_object_reads(http, url, data_file,
                                                  packed_files, kind):
    """gzip, bz2 and tar member objects have a fileno() of the packed file;
    the body is what they read, not the bytes on disk."""
    _, data = data_file
    r = http.get(url('/response/fw?kind=%s&name=%s'
                     % (kind, packed_files[kind])))
    assert r.status_code == 200
    assert len(r.content) == len(data)
    assert r.content == data


def test_file_wrapper_proc_file(http, url):
    """/proc files are regular files of size 0: read, not sent as 0
    bytes."""
    r = http.get(url('/response/fw?kind=proc'))
    assert r.status_code == 200
    assert r.content.startswith(b'Name:\t')
    assert b'\nPid:\t%d\n' % int(r.content.split(b'\nPid:\t')[1]
                                     .split(b'\n')[0]) in r.content
    assert b'VmRSS:' in r.content
    assert r.headers.get('Content-Length') != '0'


def test_file_wrapper_pipe(http, url, data_file):
    name, data = data_file
    r = http.get(url('/response/fw?kind=pipe&name=' + name))
    assert r.status_code == 200
    assert r.content == data


@pytest.mark.parametrize('kind,pos', [('readsome', 10), ('raw', 0)])
def test_file_wrapper_real_file_kinds(http, url, data_file, kind, pos):
    """A buffered file that already read some (its tell() counts the
    buffer), and an unbuffered FileIO: sent from disk with their size."""
    name, data = data_file
    r = http.get(url('/response/fw?kind=%s&name=%s' % (kind, name)))
    assert r.status_code == 200
    assert r.headers['Content-Length'] == str(len(data) - pos)
    assert r.content == data[pos:]


def test_file_wrapper_fileio_subclass_is_read(http, url, data_file):
    """A subclass of io.FileIO may read something else than the disk."""
    name, _ = data_file
    r = http.get(url('/response/fw?kind=sub&name=' + name))
    assert r.status_code == 200
    assert r.content == b'x' * 1000


@pytest.mark.expect_log('APW00301')
def test_file_wrapper_text_file_refused(http, url, state, log):
    """A text-mode file: read() gives str, which is refused (500) rather
    than encoded in a guessed way."""
    name = 'text-%s.txt' % support.token()
    path = state / name
    path.write_text('caf\xe9\n' * 100)
    path.chmod(0o644)
    r = http.get(url('/response/fw?kind=text&name=' + name))
    assert r.status_code == 500
    log.wait('/response/fw', tag='APW00301')
    assert log.tagged('APW00301', 'TypeError: wsgi.file_wrapper: read() of '
                      "_io.TextIOWrapper returned str, not bytes: open the "
                      "file in binary mode ('rb')")


@pytest.mark.parametrize('kind', ['grown', 'cut'])
def test_file_wrapper_size_changed_before_return(http, url, state, kind):
    """The size at the time of sending counts: a file that grew is sent
    whole; one cut below its position is read (nothing left)."""
    name = 'changing-%s.bin' % support.token()
    path = state / name
    data = os.urandom(20000)
    path.write_bytes(data)
    path.chmod(0o666)
    r = http.get(url('/response/fw?kind=%s&name=%s' % (kind, name)))
    assert r.status_code == 200
    if kind == 'grown':
        assert r.headers['Content-Length'] == str(len(data) + 100)
        assert r.content == data + b'+' * 100
    else:
        assert r.content == b''


def test_file_wrapper_bytesio(http, url):
    size = 200000
    r = http.get(url('/response/bytesio?size=%d' % size))
    assert r.content == (support.pattern_block() * 4)[:size]


def test_file_wrapper_is_iterable(http, url, data_file):
    name, data = data_file
    r = http.get(url('/response/file-iterate?name=' + name))
    assert r.content == data


def test_file_wrapper_in_named_interpreter(http, url, data_file):
    name, data = data_file
    r = http.get(url('/response-named/file?name=%s&pos=77' % name))
    assert r.content == data[77:]


def test_requests_run_concurrently(server):
    """Six 1-second requests finish well before 6 s: the module does not
    serialise requests (threads under event/worker, processes under
    prefork)."""
    def one(i):
        with support.Client() as client:
            return client.get(server.url('/response/sleep?s=1')).content
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    elapsed = time.monotonic() - start
    assert results == [b'slept'] * 6
    assert elapsed < 4.5, elapsed


@pytest.mark.skipif(support.MPM == 'prefork',
                    reason='needs threads in one process')
@pytest.mark.parametrize('mount', ['/response', '/response-named'])
@pytest.mark.parametrize('block', [65536, 8192, 1024])
def test_gil_released_while_blocked_writing(server, mount, block):
    """A response stuck on a client that does not read must not hold the
    interpreter: another request to it is served meanwhile.  Blocks of
    64 KiB, 8 KiB (which the module passes keeping the GIL while the
    socket takes them) and 1 KiB (each flushed)."""
    stuck = socket.create_connection((server.host, server.port), timeout=5)
    try:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b'GET %s/large?mb=256&block=%d HTTP/1.1\r\n'
                      b'Host: 127.0.0.1\r\n\r\n' % (mount.encode(), block))
        assert stuck.recv(1024).startswith(b'HTTP/1.1 200')
        with support.Client() as client:
            r = client.get(server.url(mount + '/single'), timeout=5)
        assert r.content == b'hello world'
    finally:
        stuck.close()


@pytest.mark.skipif(support.MPM == 'prefork',
                    reason='needs threads in one process')
@pytest.mark.expect_log('APW00301')
def test_gil_released_while_blocked_reading(server):
    """A request blocked reading a slow body must not hold the interpreter."""
    tok = support.token()
    mark = server.log_mark()
    stuck = socket.create_connection((server.host, server.port), timeout=5)
    try:
        stuck.sendall(b'POST /input/called?token=%s HTTP/1.1\r\n'
                      b'Host: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n'
                      % tok.encode() + b'x' * 1000)
        # The app records its call just before it blocks in read().
        support.wait_file(server.state_dir / ('input-called-' + tok))
        with support.Client() as client:
            r = client.post(server.url('/input/read'), data=b'abc',
                            timeout=5)
        assert r.json()['len'] == 3
    finally:
        stuck.close()
    # The stuck app then gets an OSError: wait for its traceback, so that it
    # lands in this test's log window.
    support.LogWindow(server, mark).wait('/input/called', tag='APW00301')


def test_many_and_long_headers(http, url):
    r = http.get(url('/response/many-headers?n=60'))
    assert r.content == b'many'
    for i in range(60):    # http.client refuses more than 100 headers
        assert r.headers['X-H-%d' % i] == 'v' * i
    assert r.headers['X-Long'] == 'L' * 8000


def test_no_descriptor_leak(http, url, data_file):
    """Files sent through wsgi.file_wrapper are closed: the serving
    process holds no more descriptors after many such responses."""
    name, data = data_file

    def fds(pid):
        return len(os.listdir('/proc/%d/fd' % pid))
    pid = http.get(url('/interp/main/whoami')).json()['pid']
    paths = ['/response/file?name=%s&pos=10' % name,
             '/response/fw?kind=raw&name=%s' % name,
             '/response/fw?kind=proc',
             '/response/file?name=%s&cl=1' % name,
             '/response/file-iterate?name=%s' % name]
    for path in paths:   # warm up: lazily opened things open now
        assert http.get(url(path)).status_code == 200
    before = fds(pid)
    # Within one keep-alive connection (MaxKeepAliveRequests is 100).
    for _ in range(16):
        for path in paths:
            assert http.get(url(path)).status_code == 200
    assert http.get(url('/interp/main/whoami')).json()['pid'] == pid
    assert fds(pid) <= before + 1, (before, fds(pid))


# ---- statuses that carry no body (RFC 9110 sections 6.4.1, 15.3.5,
# 15.3.6 and 15.4.5): 204, 205 and 304 ----

def _pipelined(server, method, path):
    """Send `method path` and then GET /response/single on one
    connection; -> (head of the first response, what followed it).

    Anything between the first response's blank line and the second
    response's status line is body the first response should not have
    had."""
    data = support.raw_request(
        server, b'%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
                b'GET /response/single HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                b'Connection: close\r\n\r\n' % (method.encode(),
                                                path.encode()))
    head, _, rest = data.partition(b'\r\n\r\n')
    return head, rest


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
@pytest.mark.parametrize('how', ['list', 'gen', 'write', 'file'])
@pytest.mark.parametrize('cl', [None, '14', '0'])
@pytest.mark.parametrize('status', ['204 No Content', '205 Reset Content',
                                    '304 Not Modified'])
def test_no_body_statuses(server, data_file, method, how, cl, status):
    name, _ = data_file
    path = '/response/no-body?s=%s&how=%s&name=%s' % (
        status.replace(' ', '+'), how, name)
    if cl is not None:
        path += '&cl=' + cl
    head, rest = _pipelined(server, method, path)
    lines = head.split(b'\r\n')
    assert lines[0] == b'HTTP/1.1 ' + status.encode(), head
    assert b'X-Status: ' + status[:3].encode() in lines
    fields = [line.split(b':')[0].lower() for line in lines[1:]]
    assert b'transfer-encoding' not in fields, head
    if status.startswith('205') and method == 'GET':
        # RFC 9110 section 15.3.6: a zero-length content, said so.
        assert b'Content-Length: 0' in lines, head
    elif status.startswith('205'):
        # Apache drops a HEAD response's "Content-Length: 0" itself.
        assert [f for f in fields if f == b'content-length'] in (
            [], [b'content-length']), head
        assert b'Content-Length: 14' not in lines, head
    else:
        # RFC 9110 section 8.6: never for 204; Apache drops it for 304.
        assert b'content-length' not in fields, head
    assert b'forbidden' not in rest
    assert rest.startswith(b'HTTP/1.1 200 OK\r\n'), rest[:200]
    assert rest.endswith(b'\r\n\r\nhello world')


def test_no_body_status_logs_dropped_body(http, url, log):
    r = http.get(url('/response/no-body?s=205+Reset+Content&how=list'))
    assert (r.status_code, r.content) == (205, b'')
    line, = log.wait('/response/no-body', tag='APW00308')
    assert ':info' in line and '205' in line


def _shrink_while_sending(srv, mount='/response', size=64 * MIB):
    """Request a `size` file through file_wrapper, stall after the
    headers (the socket buffers hold far less than `size`), cut the
    file to 1 MiB, then read on: -> (head, body)."""
    name = 'shrink-%s.bin' % support.token()
    path = srv.state_dir / name
    with open(path, 'wb') as f:
        block = support.pattern_block()
        f.write(block * (size // len(block)))
    path.chmod(0o666)
    try:
        with socket.create_connection((srv.host, srv.port),
                                      timeout=support.TIMEOUT) as sock:
            sock.sendall(b'GET %s/file?name=%s HTTP/1.1\r\n'
                         b'Host: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n'
                         % (mount.encode(), name.encode()))
            data = b''
            while b'\r\n\r\n' not in data:
                chunk = sock.recv(4096)
                assert chunk, data
                data += chunk
            os.truncate(path, MIB)
            data += support.read_until_close(sock)
    finally:
        os.unlink(path)
    head, _, body = data.partition(b'\r\n\r\n')
    return head, body


def test_file_wrapper_file_sent_after_close_frees_its_number(server):
    """The file goes out after the application's close() (which closes
    it), by a descriptor of its own: when another file takes the freed
    number at once, and the file is deleted before its bytes go, the
    client still gets the first file's bytes."""
    size = 32 * MIB     # far more than the socket buffers hold
    name, decoy, marker = ('reuse-%s' % support.token() for _ in range(3))
    block = support.pattern_block()
    data = block * (size // len(block))
    (server.state_dir / name).write_bytes(data)
    with open(server.state_dir / decoy, 'wb') as f:
        f.truncate(size)            # zeros: not one block of the pattern
    for path in (name, decoy):
        (server.state_dir / path).chmod(0o666)
    try:
        with socket.create_connection((server.host, server.port),
                                      timeout=support.TIMEOUT) as sock:
            sock.sendall(b'GET /response/file-reused?name=%s&decoy=%s'
                         b'&token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                         b'Connection: close\r\n\r\n'
                         % (name.encode(), decoy.encode(), marker.encode()))
            taken = support.wait_for(
                lambda: (server.state_dir / marker).exists()
                and (server.state_dir / marker).read_text(),
                what='another file opened on the freed number')
            (server.state_dir / name).unlink()
            head, _, body = support.read_until_close(sock).partition(
                b'\r\n\r\n')
    finally:
        for path in (name, decoy, marker):
            (server.state_dir / path).unlink(missing_ok=True)
    assert taken == 'True'
    assert head.startswith(b'HTTP/1.1 200 OK\r\n'), head
    assert b'Content-Length: %d' % size in head.split(b'\r\n'), head
    assert len(body) == size
    assert support.sha256(body) == support.sha256(data)


def _reads(pid):
    """The read system calls (sendfile among them) process `pid` has
    made, from /proc/PID/io."""
    with open('/proc/%d/io' % pid) as f:
        return int(dict(line.split(': ') for line in f)['syscr'])


@pytest.mark.parametrize('enable, reads', [
    ('On', range(1, 100)),
    # Apache's default: read() of 8,000 bytes at a time (APR's
    # APR_BUCKET_BUFF_SIZE), so 4 MiB take 525.
    ('Off', range(200, 5000)),
])
def test_file_wrapper_follows_enable_sendfile(make_server, enable, reads):
    """EnableSendfile decides how the file goes, as for Apache's own
    files: by sendfile where it is On, else read from the file."""
    srv = support.start_interp_server(
        make_server, support.location('/sf', 'response_app',
                                      extra='EnableSendfile ' + enable))
    name = 'sendfile-%s.bin' % support.token()
    data = os.urandom(4 * MIB)
    (srv.state_dir / name).write_bytes(data)
    (srv.state_dir / name).chmod(0o644)
    url = srv.url('/sf/file?name=%s&cl=1' % name)
    with support.Client() as http:
        assert http.get(url).content == data     # warm: Python loaded
        pid, = srv.child_pids()
        before = _reads(pid)
        r = http.get(url)
        after = _reads(pid)
    assert (r.status_code, len(r.content)) == (200, len(data))
    assert r.content == data
    assert after - before in reads


@pytest.mark.expect_log('APW00309')
def test_file_wrapper_file_shrinks_while_sent(server, log):
    """A file cut short while it is sent neither kills the process (a
    mapped file would raise SIGBUS) nor leaves the client waiting for
    bytes that never come: the connection is cut."""
    head, body = _shrink_while_sending(server)
    assert head.startswith(b'HTTP/1.1 200 OK\r\n')
    assert b'Content-Length: %d' % (64 * MIB) in head
    # Cut short, and what came is the file's.  With EnableSendfile Off
    # (Apache's default: the file read 8,000 bytes at a time) less than
    # the new size may arrive: blocks read for one write but not yet
    # written are dropped when a later read meets the new end.
    assert 0 < len(body) < 64 * MIB
    block = support.pattern_block()
    assert body == (block * (len(body) // len(block) + 1))[:len(body)]
    log.wait('/response/file', 'shrank from 67108864 to 1048576 bytes',
             tag='APW00309')


@pytest.mark.expect_log('APW00309')
def test_file_wrapper_file_shrinks_under_a_filter(make_server):
    """The same under mod_deflate, which reads the file's bytes in the
    process: from a map of the file, that read would be SIGBUS."""
    srv = support.start_interp_server(
        make_server, support.location('/gz', 'response_app',
                                      extra='SetOutputFilter DEFLATE'),
        modules=('deflate',))
    head, body = _shrink_while_sending(srv, '/gz')
    assert head.startswith(b'HTTP/1.1 200 OK\r\n')
    assert b'Content-Encoding: gzip' in head
    assert b'Transfer-Encoding: chunked' in head
    assert not body.endswith(b'\r\n0\r\n\r\n')
    support.LogWindow(srv, 0).wait('/gz/file', 'shrank from 67108864 to '
                                   '1048576 bytes', tag='APW00309')
