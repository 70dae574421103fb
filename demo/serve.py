#!/usr/bin/env python3
"""Serves the built demo (demo/dist) on 127.0.0.1 only, with the page's
Content-Security-Policy as a response header and wasm as application/wasm.

    python3 demo/serve.py [--port P] [--dir DIST] [--verbose]

--port 0 (the default) picks a free port. The first line on stdout is the
URL, once the socket is listening (demo/run.sh reads it).
"""

import argparse
import http.server
import os
import sys

# The same policy as the <meta> tag in index.html (a header can also carry
# what a meta tag cannot, e.g. frame-ancestors; keep the two in step).
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".svg": "image/svg+xml",
        ".html": "text/html; charset=utf-8",
    }
    verbose = False

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        # Always the build on disk: a rebuilt demo is never served stale.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)

    def log_error(self, format, *args):
        super().log_message(format, *args)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--dir", default=os.path.join(here, "dist"), help="folder to serve")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.dir, "index.html")):
        sys.exit(f"serve.py: {a.dir}/index.html is missing: build first (demo/run.sh build)")
    Handler.verbose = a.verbose

    def handler(*args, **kwargs):
        return Handler(*args, directory=a.dir, **kwargs)

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    with http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler) as httpd:
        port = httpd.server_address[1]
        print(f"http://127.0.0.1:{port}/", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
