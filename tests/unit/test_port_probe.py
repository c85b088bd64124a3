"""`make run` refuses a port someone listens on, but not one that only the last run's
closed connections still hold (TIME_WAIT): restarting at once must work."""

from __future__ import annotations

import socket

import psutil
import pytest

from eungdapso_devstack.__main__ import StartupFailed, _check_port_free


def _port_in_time_wait() -> int:
    """A port whose listener is gone and whose server side closed a connection first,
    as uvicorn does when `make run` stops: that socket sits in TIME_WAIT for a minute."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = int(server.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first: its end goes to TIME_WAIT
    assert client.recv(1) == b""
    client.close()
    server.close()
    states = {c.status for c in psutil.net_connections("tcp4") if c.laddr and c.laddr.port == port}
    assert psutil.CONN_TIME_WAIT in states, states
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the probe used to do
    return port


def test_a_port_held_only_by_time_wait_connections_is_free() -> None:
    _check_port_free(_port_in_time_wait())


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_a_port_with_a_live_listener_is_refused(address: str) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((address, 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(StartupFailed, match=f"port {port} is in use"):
            _check_port_free(port)
