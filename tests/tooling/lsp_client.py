"""A small JSON-RPC client that talks to `zoo lsp` over a real stdio pipe (for the tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import queue
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LspClient:
    """Start `python -m zoo.cli lsp`; send requests and notifications; collect what comes back."""

    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "zoo.cli", "lsp"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.messages: queue.Queue = queue.Queue()
        self.notifications: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            header = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode().strip()
                if not line:
                    break
                key, value = line.split(":", 1)
                header[key.lower()] = value.strip()
            body = out.read(int(header["content-length"]))
            self.messages.put(json.loads(body))

    def _send(self, message: dict):
        data = json.dumps(message).encode()
        self.proc.stdin.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 30):
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            m = self.messages.get(timeout=timeout)
            if m.get("id") == self.next_id and "method" not in m:
                assert "error" not in m, m
                return m.get("result")
            self.notifications.append(m)

    def wait_notification(self, method: str, timeout: float = 30, where=lambda p: True):
        for i, m in enumerate(self.notifications):
            if m.get("method") == method and where(m["params"]):
                return self.notifications.pop(i)["params"]
        while True:
            m = self.messages.get(timeout=timeout)
            if m.get("method") == method and where(m["params"]):
                return m["params"]
            self.notifications.append(m)

    def close(self):
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
