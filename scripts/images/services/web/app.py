"""hyperdock lab-web: a visit counter and notes in MariaDB, served by the standard library.

Configured by DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD; WEB_VERSION is the image's version.
Listens on 0.0.0.0:8080.

    GET  /        counts a visit; HTML with the version, the counter and the hostname
    GET  /visits  the counter as plain text, not counted
    GET  /health  200 "ok" when the database answers, 503 otherwise
    POST /notes   stores the request body (UTF-8 text) as a note: 201 and the note as JSON
    GET  /notes   every note as a JSON list, oldest first

The tables are created when missing, so an empty database is enough.
"""

from __future__ import annotations

import html
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pymysql

LISTEN = ("0.0.0.0", 8080)
MAX_NOTE_BYTES = 64 * 1024
HOSTNAME = socket.gethostname()
VERSION = os.environ.get("WEB_VERSION", "unknown")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS visits (id TINYINT PRIMARY KEY, count BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL,"
    " host VARCHAR(255) NOT NULL, created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
)
NO_SUCH_TABLE = 1146
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    name: str
    user: str
    password: str


def config_from_env() -> Config:
    port = os.environ.get("DB_PORT", "3306")
    if not port.isdigit() or not 0 < int(port) < 65536:
        sys.exit(f"lab-web: DB_PORT={port!r} is not accepted: use a port number from 1 to 65535")
    return Config(host=os.environ.get("DB_HOST", "db"), port=int(port), name=os.environ.get("DB_NAME", "lab"),
                  user=os.environ.get("DB_USER", "lab"), password=os.environ.get("DB_PASSWORD", ""))


CONFIG = config_from_env()
# Created once per process; cleared when a table turns out missing (a new database behind the same name).
schema_ready = False


@contextmanager
def database() -> Iterator[Any]:
    """A cursor on a fresh connection (one per request: the app serves a lab, not a load test)."""
    global schema_ready
    conn = pymysql.connect(host=CONFIG.host, port=CONFIG.port, user=CONFIG.user, password=CONFIG.password,
                           database=CONFIG.name, charset="utf8mb4", autocommit=True,
                           connect_timeout=3, read_timeout=5, write_timeout=5)
    try:
        with conn.cursor() as cursor:
            if not schema_ready:
                for statement in SCHEMA:
                    cursor.execute(statement)
                schema_ready = True
            try:
                yield cursor
            except pymysql.err.ProgrammingError as exc:
                if exc.args and exc.args[0] == NO_SUCH_TABLE:
                    schema_ready = False
                raise
    finally:
        conn.close()


def count_visit() -> int:
    with database() as cursor:
        cursor.execute("INSERT INTO visits (id, count) VALUES (1, 1) ON DUPLICATE KEY UPDATE count = count + 1")
        cursor.execute("SELECT count FROM visits WHERE id = 1")
        return int(cursor.fetchone()[0])


def visits() -> int:
    with database() as cursor:
        cursor.execute("SELECT count FROM visits WHERE id = 1")
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def add_note(body: str) -> dict[str, Any]:
    with database() as cursor:
        cursor.execute("INSERT INTO notes (body, host) VALUES (%s, %s)", (body, HOSTNAME))
        cursor.execute("SELECT id, body, host, created FROM notes WHERE id = LAST_INSERT_ID()")
        return note(cursor.fetchone())


def notes() -> list[dict[str, Any]]:
    with database() as cursor:
        cursor.execute("SELECT id, body, host, created FROM notes ORDER BY id")
        return [note(row) for row in cursor.fetchall()]


def note(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "body": row[1], "host": row[2], "created": row[3].isoformat()}


def page(count: int) -> str:
    version, host = html.escape(VERSION), html.escape(HOSTNAME)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>hyperdock lab-web {version}</title></head>
<body>
<h1>hyperdock lab-web</h1>
<p>Version <strong id="version">{version}</strong>, served by <strong id="hostname">{host}</strong>.</p>
<p>Visits: <strong id="visits">{count}</strong></p>
</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    server_version = f"lab-web/{VERSION}"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self.health()
        elif path == "/":
            self.answer_from_db(lambda: (200, "text/html; charset=utf-8", page(count_visit())))
        elif path == "/visits":
            self.answer_from_db(lambda: (200, "text/plain; charset=utf-8", f"{visits()}\n"))
        elif path == "/notes":
            self.answer_from_db(lambda: (200, JSON, json.dumps(notes(), ensure_ascii=False) + "\n"))
        else:
            self.reply(404, "text/plain; charset=utf-8", f"no such page: {path}\n")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path != "/notes":
            self.reply(404, "text/plain; charset=utf-8", f"no such page: {path}\n")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self.reply(411, "text/plain; charset=utf-8", "POST /notes needs a Content-Length\n")
            return
        if int(length) > MAX_NOTE_BYTES:
            self.reply(413, "text/plain; charset=utf-8", f"a note holds at most {MAX_NOTE_BYTES} bytes\n")
            return
        try:
            body = self.rfile.read(int(length)).decode("utf-8")
        except UnicodeDecodeError:
            self.reply(400, "text/plain; charset=utf-8", "a note is UTF-8 text\n")
            return
        if not body.strip():
            self.reply(400, "text/plain; charset=utf-8", "a note needs a body\n")
            return
        self.answer_from_db(lambda: (201, JSON, json.dumps(add_note(body), ensure_ascii=False) + "\n"))

    def health(self) -> None:
        try:
            with database() as cursor:
                cursor.execute("SELECT 1")
        except pymysql.err.MySQLError as exc:
            self.reply(503, "text/plain; charset=utf-8", f"database {CONFIG.host}:{CONFIG.port}: {exc}\n")
        else:
            self.reply(200, "text/plain; charset=utf-8", "ok\n")

    def answer_from_db(self, answer: Any) -> None:
        try:
            status, content_type, text = answer()
        except pymysql.err.MySQLError as exc:
            status, content_type, text = 503, "text/plain; charset=utf-8", f"database unavailable: {exc}\n"
        self.reply(status, content_type, text)

    def reply(self, status: int, content_type: str, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The healthcheck calls /health every few seconds: only its failures are worth a log line.
        if urlsplit(self.path).path != "/health" or str(code) != "200":
            super().log_request(code, size)


def stop(signum: int, frame: Any) -> NoReturn:
    sys.exit(0)


def main() -> None:
    # As PID 1 the process ignores SIGTERM unless it handles it: `docker stop` would wait for its SIGKILL.
    signal.signal(signal.SIGTERM, stop)
    server = ThreadingHTTPServer(LISTEN, Handler)
    server.daemon_threads = True
    print(f"lab-web {VERSION} on {HOSTNAME} listening on {LISTEN[0]}:{LISTEN[1]},"
          f" database {CONFIG.user}@{CONFIG.host}:{CONFIG.port}/{CONFIG.name}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
