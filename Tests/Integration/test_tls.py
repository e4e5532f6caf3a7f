"""TLS and authentication, end to end: `serve --tls-dir` generates a CA, a server certificate,
a client bundle and a shared secret on first use; `mount -o tls_dir=` and `locks --tls-dir` use
the bundle. Every refusal is one line from the client and a log line (peer and reason) on the
server; the bytes on the wire are TLS."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest

import harness


def tls_server(server_factory, tmp_path: Path, name: str = "tls", auth: str = "certificate", args=()):
    """A server with TLS material generated into `<tmp>/<name>`; returns (handle, directory)."""
    directory = tmp_path / name
    handle = server_factory(args=["--tls-dir", str(directory), "--auth", auth, *args])
    return handle, directory


def bundle_copy(directory: Path, tmp_path: Path, name: str, drop=()) -> Path:
    """A copy of the server's client bundle, as an administrator would hand it out, without the
    files named in `drop`."""
    copy = tmp_path / name
    shutil.copytree(directory / "client", copy)
    for file in drop:
        (copy / file).unlink()
    return copy


def one_line_failure(result) -> str:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def mount_fails(registry, pohmelfs_bin, server, mountpoint: Path, options: str) -> str:
    """Runs a background `pohmelfs mount` expected to fail; returns its one error line and
    checks nothing got mounted."""
    mountpoint.mkdir(exist_ok=True)
    command = [str(pohmelfs_bin), "mount", server.address, str(mountpoint)]
    if options:
        command += ["-o", options]
    line = one_line_failure(registry.run(command, timeout=30))
    assert not harness.is_mounted(mountpoint)
    return line


def write_read_checksum(mount, server, size: int = 8 << 20) -> None:
    data = os.urandom(size)
    path = mount.mountpoint / "payload.bin"
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    assert hashlib.sha256((server.export / "payload.bin").read_bytes()).digest() == hashlib.sha256(data).digest()


@pytest.mark.timeout_seconds(90)
def test_generated_directory_has_private_keys_and_a_client_bundle(server_factory, tmp_path):
    server, directory = tls_server(server_factory, tmp_path)
    for name in ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "secret",
                 "client/ca.pem", "client/client.pem", "client/client-key.pem", "client/secret"]:
        assert (directory / name).is_file(), name
    for name in ["ca-key.pem", "server-key.pem", "secret", "client/client-key.pem", "client/secret"]:
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    assert "listening with TLS" in server.log_text()


@pytest.mark.timeout_seconds(120)
def test_mount_with_a_client_certificate_writes_and_reads_end_to_end(server_factory, mount_factory, tmp_path):
    server, directory = tls_server(server_factory, tmp_path)
    bundle = bundle_copy(directory, tmp_path, "bundle", drop=["secret"])
    mount = mount_factory(server, f"tls_dir={bundle}")
    write_read_checksum(mount, server)


@pytest.mark.timeout_seconds(120)
def test_mount_with_the_shared_secret_writes_and_reads_end_to_end(server_factory, mount_factory, tmp_path):
    server, directory = tls_server(server_factory, tmp_path, auth="secret")
    bundle = bundle_copy(directory, tmp_path, "bundle", drop=["client.pem", "client-key.pem"])
    mount = mount_factory(server, f"tls_dir={bundle}")
    write_read_checksum(mount, server)


@pytest.mark.timeout_seconds(90)
def test_a_client_without_credentials_is_refused_in_one_line(server_factory, registry, pohmelfs_bin, tmp_path):
    server, _ = tls_server(server_factory, tmp_path)
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", "")
    assert "authentication failed" in line and "requires TLS and authentication" in line and "tls_dir" in line, line
    log = server.log_text()
    assert "does not speak TLS" in log and "127.0.0.1" in log, log
    assert "TLS handshake failed" not in log, log  # one refusal, logged once


@pytest.mark.timeout_seconds(90)
def test_a_wrong_secret_is_refused_and_the_server_logs_peer_and_reason(
        server_factory, registry, pohmelfs_bin, tmp_path):
    server, directory = tls_server(server_factory, tmp_path, auth="secret")
    bundle = bundle_copy(directory, tmp_path, "bundle")
    (bundle / "secret").write_text("0" * 64 + "\n")
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", f"tls_dir={bundle}")
    assert line.startswith("pohmelfs mount: authentication failed:") and "rejected the shared secret" in line, line
    log = server.log_text()
    assert "authentication failed" in log and "wrong shared secret" in log and "127.0.0.1" in log, log


@pytest.mark.timeout_seconds(90)
def test_a_missing_secret_is_refused_when_the_server_requires_one(server_factory, registry, pohmelfs_bin, tmp_path):
    server, directory = tls_server(server_factory, tmp_path, auth="secret")
    bundle = bundle_copy(directory, tmp_path, "bundle", drop=["secret"])
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", f"tls_dir={bundle}")
    assert "authentication failed" in line and "requires a shared secret" in line, line


@pytest.mark.timeout_seconds(90)
def test_a_secret_file_others_can_read_is_refused_before_connecting(server_factory, registry, pohmelfs_bin, tmp_path):
    server, directory = tls_server(server_factory, tmp_path, auth="secret")
    bundle = bundle_copy(directory, tmp_path, "bundle")
    os.chmod(bundle / "secret", 0o644)
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", f"tls_dir={bundle}")
    assert "chmod 600" in line and str(bundle / "secret") in line, line
    assert "authentication failed" not in server.log_text()


@pytest.mark.timeout_seconds(90)
def test_a_client_certificate_from_another_ca_is_refused(server_factory, registry, pohmelfs_bin, tmp_path):
    server, directory = tls_server(server_factory, tmp_path)
    _, stranger = tls_server(server_factory, tmp_path, name="stranger")
    bundle = tmp_path / "mixed"
    bundle.mkdir()
    shutil.copy(directory / "client" / "ca.pem", bundle / "ca.pem")  # trusts the right server...
    for name in ["client.pem", "client-key.pem"]:  # ...but its certificate is from another CA
        shutil.copy2(stranger / "client" / name, bundle / name)
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", f"tls_dir={bundle}")
    assert "authentication failed" in line and "rejected the client certificate" in line, line
    log = server.log_text()
    assert "TLS handshake failed" in log and "not signed by the server's CA" in log and "127.0.0.1" in log, log


@pytest.mark.timeout_seconds(90)
def test_a_server_certificate_the_client_does_not_trust_is_refused(server_factory, registry, pohmelfs_bin, tmp_path):
    server, _ = tls_server(server_factory, tmp_path)
    _, stranger = tls_server(server_factory, tmp_path, name="stranger")
    line = mount_fails(registry, pohmelfs_bin, server, tmp_path / "mnt", f"tls_dir={stranger / 'client'}")
    assert "server certificate" in line and "not trusted" in line, line
    assert "does not trust the server certificate" in server.log_text()


@pytest.mark.timeout_seconds(90)
def test_locks_needs_credentials_and_works_with_them(server_factory, run_pohmelfs, tmp_path):
    server, directory = tls_server(server_factory, tmp_path)
    line = one_line_failure(run_pohmelfs("locks", server.address, "--json"))
    assert "authentication failed" in line and "--tls-dir" in line, line
    result = run_pohmelfs("locks", server.address, "--json", "--tls-dir", str(directory / "client"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("{") or result.stdout.strip().startswith("["), result.stdout


@pytest.mark.timeout_seconds(60)
def test_a_plain_server_logs_that_it_serves_loopback_only(server):
    assert "listening on loopback only" in server.log_text()


@pytest.mark.timeout_seconds(60)
def test_a_non_loopback_listen_is_allowed_with_tls(server_factory, tmp_path, free_port):
    directory = tmp_path / "tls"
    port = free_port()
    # --listen given last wins over the fixture's loopback address.
    server = server_factory(args=["--tls-dir", str(directory), "--listen", f"0.0.0.0:{port}"])
    assert "listening with TLS" in server.log_text()


class Relay:
    """A TCP relay on 127.0.0.1 that forwards to `upstream` and records every byte each way."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.to_server = bytearray()
        self.to_client = bytearray()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.stopping = False
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self.threads.append(accept)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets += [client, upstream]
            for source, sink, record in [(client, upstream, self.to_server), (upstream, client, self.to_client)]:
                pump = threading.Thread(target=self._pump, args=(source, sink, record), daemon=True)
                pump.start()
                self.threads.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        try:
            while data := source.recv(1 << 16):
                with self.lock:
                    record.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        for thread in self.threads:
            thread.join(timeout=5)


@pytest.mark.timeout_seconds(120)
def test_the_bytes_on_the_wire_are_tls_not_plaintext(server_factory, mount_factory, tmp_path):
    server, directory = tls_server(server_factory, tmp_path)
    relay = Relay(server.port)
    try:
        through_relay = dataclasses.replace(server, address=f"127.0.0.1:{relay.port}", port=relay.port)
        mount = mount_factory(through_relay, f"tls_dir={directory / 'client'}")
        name = "wire-visible-name-7c1f.txt"
        marker = b"PLAINTEXT-MARKER-" * 4096
        (mount.mountpoint / name).write_bytes(marker)
        assert (mount.mountpoint / name).read_bytes() == marker
        assert name in os.listdir(mount.mountpoint)
        mount.unmount()
    finally:
        relay.close()
    assert (server.export / name).read_bytes() == marker  # it did travel through the relay
    for stream in (relay.to_server, relay.to_client):
        assert len(stream) > len(marker) // 2
        assert stream[:2] == b"\x16\x03", stream[:16]  # a TLS handshake record
        for plain in (b"PHFS", name.encode(), b"PLAINTEXT-MARKER"):
            assert plain not in stream, plain


@pytest.mark.parametrize("args, expected", [
    (["--auth", "secret"], "need --tls-dir"),
    (["--tls-name", "fileserver"], "need --tls-dir"),
    (["--tls-dir", "TLS", "--auth", "password"], "not certificate or secret"),
])
def test_bad_tls_options_fail_in_one_line(run_pohmelfs, tmp_path, free_port, args, expected):
    export = tmp_path / "export"
    export.mkdir()
    args = [str(tmp_path / "tls") if a == "TLS" else a for a in args]
    line = one_line_failure(run_pohmelfs("serve", "--export", str(export), "--state-dir", str(tmp_path / "state"),
                                         "--listen", f"127.0.0.1:{free_port()}", *args, timeout=60))
    assert line.startswith("pohmelfs serve:") and expected in line, line
    assert not (tmp_path / "tls").exists()


@pytest.mark.timeout_seconds(180)
@pytest.mark.parametrize("auth", ["secret", "certificate"])
def test_a_tls_mount_reconnects_and_authenticates_again_after_a_server_restart(
        server_factory, mount_factory, tmp_path, auth):
    """The reconnect path speaks TLS and, with a shared secret, sends AUTH again before its
    resuming HELLO: a file written before the server was killed reads back, and a file written
    after the restart lands on the export."""
    server, directory = tls_server(server_factory, tmp_path, auth=auth)
    drop = ["client.pem", "client-key.pem"] if auth == "secret" else ["secret"]
    bundle = bundle_copy(directory, tmp_path, "bundle", drop=drop)
    mount = mount_factory(server, f"tls_dir={bundle}")
    before = os.urandom(1 << 20)
    with open(mount.mountpoint / "before.bin", "wb") as f:
        f.write(before)
        os.fsync(f.fileno())
    server.crash()
    server = server_factory(
        export=server.export, state_dir=server.state_dir, port=server.port,
        args=["--tls-dir", str(directory), "--auth", auth])
    after = os.urandom(1 << 20)
    with open(mount.mountpoint / "after.bin", "wb") as f:
        f.write(after)
        os.fsync(f.fileno())
    assert (mount.mountpoint / "before.bin").read_bytes() == before
    assert (server.export / "after.bin").read_bytes() == after
    assert "reconnected to a new session" in mount.log_text()
