"""The shared PostgreSQL helper really requires TLS, cleans up, and says how to install PostgreSQL."""

import psycopg2
import pytest

from tools.local_servers import postgres
from tools.local_servers.postgres import PostgresNotInstalled, PostgresServer

pytestmark = pytest.mark.real_servers  # starts PostgreSQL/PgBouncer: not in `make test-fast`


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with PostgresServer(tmp_path_factory.mktemp("pg") / "cluster") as pg:
        yield pg


def test_accepts_tls(server):
    with psycopg2.connect(server.dsn(sslmode="require")) as conn, conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
        cur.execute("SHOW ssl")
        assert cur.fetchone() == ("on",)
    conn.close()


def test_refuses_plain_text(server):
    with pytest.raises(psycopg2.OperationalError, match="no encryption|SSL off"):
        psycopg2.connect(server.dsn(sslmode="disable"))


def test_refuses_wrong_password(server):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(server.dsn(password="not-the-password"))  # pragma: allowlist secret


def test_stops_and_removes_everything_even_after_an_exception(tmp_path):
    folder = tmp_path / "cluster"
    with pytest.raises(ZeroDivisionError):
        with PostgresServer(folder) as pg:
            port, used = pg.port, pg.folder
            assert (used / "data" / "postmaster.pid").exists()
            psycopg2.connect(pg.dsn()).close()
            1 / 0
    assert not folder.exists() and not used.exists()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", sslmode="require", connect_timeout=2)


def test_missing_postgres_names_the_packages(monkeypatch):
    monkeypatch.setattr(postgres.shutil, "which", lambda _name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda _pattern: [])
    with pytest.raises(PostgresNotInstalled, match=r"apt-get install postgresql.*brew install postgresql@15"):
        postgres.find_bindir()


def test_refuses_a_non_loopback_host(tmp_path):
    with pytest.raises(ValueError, match="host must be a loopback address"):
        PostgresServer(tmp_path, host="10.0.0.1")
