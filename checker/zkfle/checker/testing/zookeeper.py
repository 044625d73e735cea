"""Runs Debian's real ZooKeeper 3.8 (`apt-get install zookeeper`) on loopback, for interop tests.

Every server this starts is stopped by its own pid (SIGTERM, then SIGKILL after a bound), every wait is
bounded, and every address is 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

JARS = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
JAVA_DIR = Path("/usr/share/java")
EXIT_MARKER = "Exiting JVM with code"
"""ServiceUtils' last line before the JVM exits on an error."""
LOG4J = """log4j.rootLogger=INFO, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=${zk.logfile}
log4j.appender.F.Append=true
log4j.appender.F.ImmediateFlush=true
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
"""


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (bound and released; ZooKeeper binds them a moment later)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def four_letter_word(port: int, word: str, timeout_s: float = 2.0) -> str:
    """ZooKeeper's 4lw admin command (`srvr`, `stat`, ...) on the loopback client port."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
        conn.sendall(word.encode("ascii"))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass
class ZooKeeperRun:
    """What one run of a real server did: its log, its exit code (None if we stopped it), `srvr` output."""

    log: str
    returncode: int | None
    srvr: str | None


class ZooKeeper:
    """Starts QuorumPeerMain on a data dir, waits for a log line or an exit, then stops it by pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "log4j.properties").write_text(LOG4J)
        self.classpath = ":".join(str(JAVA_DIR / jar) for jar in JARS)

    def run(
        self,
        data_dir: Path,
        *,
        myid: int = 1,
        servers: int = 0,
        until: str,
        timeout_s: float = 30.0,
        extra_config: str = "",
    ) -> ZooKeeperRun:
        """Run until a log line matches `until` (a regex) or the process exits; `servers` > 0 writes a
        quorum config with that many `server.N` lines (only this one is started), 0 a standalone config."""
        client_port, *peer_ports = free_ports(1 + 2 * servers)
        lines = [
            "tickTime=200",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={data_dir}",
            f"clientPort={client_port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
        ]
        for n in range(1, servers + 1):
            lines.append(f"server.{n}=127.0.0.1:{peer_ports[2 * n - 2]}:{peer_ports[2 * n - 1]}")
        if servers:
            (data_dir / "myid").write_text(f"{myid}\n")
        config = self.workdir / f"zoo-{client_port}.cfg"
        config.write_text("\n".join(lines) + "\n" + extra_config)
        logfile = self.workdir / f"zk-{client_port}.log"
        command = [
            "java",
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.preAllocSize=16",
            f"-Dzk.logfile={logfile}",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp",
            self.classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(config),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pattern = re.compile(until)
        deadline = time.monotonic() + timeout_s
        srvr: str | None = None
        text = ""
        try:
            while time.monotonic() < deadline:
                text = logfile.read_text(errors="replace") if logfile.exists() else ""
                if pattern.search(text):
                    if EXIT_MARKER in text:  # it is on its way out: let it exit with its own code
                        proc.wait(timeout=10)
                        break
                    if not servers:
                        srvr = self._srvr(client_port, deadline)
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"ZooKeeper did not log {until!r} within {timeout_s} s; log:\n{text}")
        finally:
            stopped_by_us = proc.poll() is None
            if stopped_by_us:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        log = logfile.read_text(errors="replace") if logfile.exists() else ""
        return ZooKeeperRun(log=log, returncode=None if stopped_by_us else proc.returncode, srvr=srvr)

    @staticmethod
    def _srvr(port: int, deadline: float) -> str:
        while True:
            try:
                out = four_letter_word(port, "srvr")
                if "Zxid" in out:
                    return out
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server never answered srvr")
            time.sleep(0.1)


def unavailable() -> str | None:
    """Why real ZooKeeper cannot run here, or None when it can."""
    missing = [jar for jar in JARS if not (JAVA_DIR / jar).exists()]
    if shutil.which("java") is None or missing:
        return f"real ZooKeeper unavailable here: java={shutil.which('java')}, missing jars={missing}"
    return None
