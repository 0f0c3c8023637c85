#!/usr/bin/python3
"""A local stand-in for the chat webhooks (WeCom, DingTalk, Feishu, Slack) that
deploy/local/up.sh points voc-notify at, since a development machine has no
real ones: it answers every POST the way those services answer success and
appends one line per message (path, then the body) to the log file.
Usage: webhook_sink.py PORT_FILE LOG_FILE   (binds 127.0.0.1 on a free port)"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as log:
            log.write(self.path.encode() + b" " + body.replace(b"\n", b" ") + b"\n")
        reply = b'{"errcode":0,"errmsg":"ok","code":0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Sink)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_port))
server.serve_forever()
