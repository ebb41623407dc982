"""A small receiver for scripts/replay-load.sh (loopback only): answers 200 and keeps, in
the file named on the command line, "<requests> <distinct webhook-id values>" (written
atomically, so a reader never sees half a number)."""
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, out = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
count = 0
ids = set()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with lock:
            count += 1
            ids.add(self.headers.get("webhook-id"))
            with open(out + ".tmp", "w") as f:
                f.write(f"{count} {len(ids)}")
            os.replace(out + ".tmp", out)

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
