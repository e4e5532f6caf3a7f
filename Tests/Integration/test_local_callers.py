"""No local user becomes root through the default set-up (issue 15, item 3): on a server without
TLS, a connection from a local user's socket acts as that user whatever uid its requests claim;
only a socket of root (the mount run as root) may act as anyone."""

import os
import stat

import pytest

from raw_protocol import ProtocolError, RawClient

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")

NOBODY = 65534


def as_nobody(port: int, action) -> str:
    """Runs `action(client)` in a child process that is uid/gid 65534 with no groups, where
    `client` is a greeted RawClient whose requests claim uid 0; returns what it reported."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        outcome = "crashed"
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            client = RawClient(port, uid=0, gid=0)
            client.hello("nobody-claims-root")
            outcome = action(client)
        except ProtocolError as error:
            outcome = f"refused {error.errno}"
        except BaseException as error:  # the child must never return into pytest
            outcome = f"error {error!r}"
        finally:
            os.write(writer, outcome.encode())
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        outcome = pipe.read()
    os.waitpid(child, 0)
    return outcome


@pytest.mark.timeout_seconds(30)
def test_a_local_user_claiming_uid_0_cannot_plant_a_setuid_root_file(server):
    os.chmod(server.export, 0o1777)
    outcome = as_nobody(server.port, lambda client: client.create("planted", mode=0o4755) and "created")
    planted = server.export / "planted"
    if planted.exists():
        st = planted.lstat()
        assert not (st.st_uid == 0 and st.st_mode & stat.S_ISUID), "uid 65534 planted a set-uid-root file"
        assert st.st_uid == NOBODY, f"the file should belong to the connecting user, not uid {st.st_uid}"
    else:
        assert outcome.startswith("refused"), outcome
    assert "a request claimed an identity this connection may not use" in server.log_text()


@pytest.mark.timeout_seconds(30)
def test_a_local_user_claiming_uid_0_cannot_read_root_only_files(server):
    secret = server.export / "secret"
    secret.write_text("root only")
    os.chmod(secret, 0o600)
    outcome = as_nobody(server.port, lambda client: client.open(client.lookup("secret")) and "opened")
    assert outcome == "refused 13", outcome


@pytest.mark.timeout_seconds(30)
def test_root_on_this_host_may_still_act_as_anyone(server):
    """The mount runs as root and passes on the real caller of each request: that keeps working."""
    os.chmod(server.export, 0o1777)
    client = RawClient(server.port, uid=1234, gid=1234)
    client.hello("root-mount")
    client.create("as-1234")
    client.close()
    st = (server.export / "as-1234").lstat()
    assert (st.st_uid, st.st_gid) == (1234, 1234)
