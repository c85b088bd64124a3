"""Throwaway certificates for TLS tests, made with the `openssl` command line tool: a CA,
a server certificate for 127.0.0.1/localhost signed by it, and a client certificate with
a password-protected key (for brokers that require client certificates)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_key_password: str
    #: A second CA that signed nothing here: trusting it must not be enough.
    other_ca: Path
    #: Signed by the test CA, but for another host name than 127.0.0.1/localhost.
    misnamed_cert: Path
    misnamed_key: Path


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip


def _leaf(directory: Path, name: str, ca: str, extensions: str, key_args: tuple[str, ...]) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", *key_args, "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    _ca(directory, "test-ca")
    _ca(directory, "other-ca")
    _leaf(
        directory,
        "server",
        "test-ca",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        ("-nodes",),
    )
    _leaf(
        directory,
        "misnamed",
        "test-ca",
        "subjectAltName=DNS:broker.invalid\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        ("-nodes",),
    )
    password = "client-key-secret"
    _leaf(
        directory,
        "client",
        "test-ca",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n",
        ("-passout", f"pass:{password}"),
    )
    return Pki(
        ca=directory / "test-ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        client_key_password=password,
        other_ca=directory / "other-ca.pem",
        misnamed_cert=directory / "misnamed.pem",
        misnamed_key=directory / "misnamed.key",
    )
