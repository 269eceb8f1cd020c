"""Pushed wake-ups between processes sharing one SQLite file: Unix datagram sockets in a folder.

Each listening worker binds a socket in a folder named after the database's real path; a
notifier sends one datagram to each. Datagrams are fire-and-forget: a full buffer means the
worker already has a wake-up pending, a refused one means a dead worker (its socket is removed).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import socket
import tempfile
import threading


def wakeup_dir(db_path: str) -> str:
    digest = hashlib.sha1(os.path.realpath(db_path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"conveyor-wake-{digest}")


class SocketWakeup:
    def __init__(self, db_path: str) -> None:
        self.folder = wakeup_dir(db_path)
        self._sender: socket.socket | None = None
        self._lock = threading.Lock()
        self._targets: list[str] = []
        self._folder_mtime = -1.0

    def _peers(self) -> list[str]:
        # Re-list only when the folder changed: a listen or a removal bumps its mtime.
        try:
            mtime = os.stat(self.folder).st_mtime
        except FileNotFoundError:
            return []
        if mtime != self._folder_mtime:
            self._folder_mtime = mtime
            self._targets = [
                os.path.join(self.folder, name)
                for name in os.listdir(self.folder)
                if name.endswith(".sock")
            ]
        return self._targets

    def notify(self, message: str) -> None:
        data = message.encode()[:1024]
        with self._lock:
            peers = self._peers()
            if not peers:
                return
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            for path in peers:
                try:
                    self._sender.sendto(data, path)
                except BlockingIOError:
                    pass  # its buffer is full: it has wake-ups waiting already
                except OSError as exc:
                    if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                        with contextlib.suppress(OSError):
                            os.unlink(path)  # nobody listens there any more
                        self._folder_mtime = -1.0

    def listen(self) -> SocketListener:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        return SocketListener(self.folder)

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None


class SocketListener:
    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, f"{os.getpid()}-{os.urandom(4).hex()}.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind(self.path)
        self._sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> list[str]:
        messages = []
        while True:
            try:
                messages.append(self._sock.recv(2048).decode(errors="replace"))
            except (BlockingIOError, InterruptedError):
                return messages

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
