#!/usr/bin/python3
"""The HTTP server that tests/integration/test_http_client.cpp talks to (stdlib only).

Binds 127.0.0.1 on a free port, prints the port on stdout, and answers every request with a JSON
echo of it: {"method", "path", "headers" (lower-case names), "body", "connection" (a number per
TCP connection, from 1), "request" (a number per request on that connection, from 1)}.

Behaviour, for the whole server (options) or one request (query parameters):
  --cert FILE --key FILE   serve TLS with this certificate chain and key
  --close-after-response   close the connection after each response, without "Connection: close"
  --delay-ms N             ?delay_ms=N: wait N ms before answering
  --chunked                ?chunked=1: send the body in chunks (with an extension and a trailer)
  --drop-reused            close, without answering, any request after the first on a connection
  ?close=1                 answer with "Connection: close" and close
  ?status=N                answer with status N
  /drop                    close without answering
  --parent-watch           exit when stdin reaches EOF (the test holds the other end of a pipe, so
                           the server cannot outlive a test that crashed)
"""
import argparse
import itertools
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told otherwise

    def setup(self):
        super().setup()
        self.connection_id = next(self.server.connection_ids)
        self.count = 0

    def log_message(self, *args):
        pass  # the test's output is the client's, not an access log

    def do_GET(self):
        self.respond()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def respond(self):
        opts = self.server.opts
        self.count += 1
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/drop" or (opts.drop_reused and self.count > 1):
            self.close_connection = True
            return
        delay = int(query.get("delay_ms", opts.delay_ms))
        if delay:
            time.sleep(delay / 1000)
        data = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "connection": self.connection_id,
            "request": self.count,
        }).encode()
        chunked = opts.chunked or query.get("chunked") == "1"
        self.send_response(int(query.get("status", 200)))
        self.send_header("Content-Type", "application/json")
        if query.get("close") == "1":
            self.send_header("Connection", "close")  # also sets close_connection
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            if chunked:
                # Separate writes, so the client sees the chunks arrive in pieces.
                for i in range(0, len(data), 16):
                    piece = data[i:i + 16]
                    self.wfile.write(b"%x;piece=%d\r\n%s\r\n" % (len(piece), i // 16, piece))
                self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
            else:
                self.wfile.write(data)
        if opts.close_after_response:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, opts):
        super().__init__(("127.0.0.1", 0), Handler)
        self.opts = opts
        self.connection_ids = itertools.count(1)
        self.tls = None
        if opts.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(opts.cert, opts.key)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, on the connection's own thread, so that a client that
        # rejects the certificate (as some tests want) does not hold up the others.
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(request, client_address)
        finally:
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            request.close()

    def handle_error(self, request, client_address):
        pass  # clients that give up mid-response (the timeout tests) are expected


def watch_parent():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--close-after-response", action="store_true")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--drop-reused", action="store_true")
    p.add_argument("--parent-watch", action="store_true")
    opts = p.parse_args()
    server = Server(opts)
    if opts.parent_watch:
        threading.Thread(target=watch_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
