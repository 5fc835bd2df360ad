"""The providers' log: whole lines per write (four worker threads log at once), every line naming the resource,
secrets redacted."""

from __future__ import annotations

import threading

from sealos_provider.remote.redact import Redactor
from sealos_provider.resources import base


class RecordingStream:
    def __init__(self) -> None:
        self.writes: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_each_message_is_written_whole_with_its_newline(monkeypatch) -> None:
    stream = RecordingStream()
    monkeypatch.setattr(base.sys, "stderr", stream)
    secret = "s3cr3t-pw"
    logs = [base.Log(f"node-{i}", Redactor([secret])) for i in range(4)]

    def spam(log: base.Log) -> None:
        for n in range(200):
            log(f"line {n} with {secret}\nsecond line {n}")

    threads = [threading.Thread(target=spam, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stream.writes) == 4 * 200
    for text in stream.writes:
        first, second, rest = text.split("\n")
        assert rest == "" and first.startswith("[node-") and second.startswith(first[: first.index("]") + 1])
        assert secret not in text
