"""`leadflow-sf-emulator` / `python -m leadflow_sf_emulator`: run the emulator with uvicorn."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

import structlog
import uvicorn

from leadflow_sf_emulator.app import create_app
from leadflow_sf_emulator.settings import EmulatorSettings
from leadflow_sf_emulator.tls import ensure_certs


def configure_logging(level: str) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=lvl, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="leadflow-sf-emulator", description=__doc__)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data", help="SQLite file or :memory:")
    p.add_argument("--tls", dest="tls", action="store_true", default=None, help="serve HTTPS (default)")
    p.add_argument("--no-tls", dest="tls", action="store_false", help="serve plain HTTP")
    p.add_argument("--cert-dir", type=Path)
    p.add_argument("--seed", help="fixture file to load into an empty org ('demo' for the demo org)")
    p.add_argument("--api-version")
    p.add_argument("--log-level")
    p.add_argument("--ready-file", type=Path, help="write 'host port scheme' here once listening")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    overrides = {
        k: v
        for k, v in {
            "host": args.host,
            "port": args.port,
            "data": args.data,
            "tls": args.tls,
            "cert_dir": args.cert_dir,
            "seed": args.seed,
            "api_version": args.api_version,
            "log_level": args.log_level,
        }.items()
        if v is not None
    }
    settings = EmulatorSettings(**overrides)
    configure_logging(settings.log_level)
    app = create_app(settings)
    certfile: str | None = None
    keyfile: str | None = None
    if settings.tls:
        certs = ensure_certs(settings.cert_dir, tuple(settings.cert_hosts))
        certfile, keyfile = str(certs.cert), str(certs.key)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = _Server(config)
    if args.ready_file:
        _announce_when_ready(server, args.ready_file, "https" if settings.tls else "http")
    server.run()


class _Server(uvicorn.Server):
    """uvicorn, but a stop does not wait for idle keep-alive connections.

    uvicorn closes an idle connection on shutdown, but over TLS asyncio's close sends close_notify and waits
    for the client's, which an idle client (a requests or httpx session between calls) never sends: every
    stop waited the whole ``timeout_graceful_shutdown`` (5 s). Idle connections are aborted instead; a request
    still in flight keeps its grace period and finishes (its connection then closes as uvicorn's does).
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await super().shutdown(sockets)


def _announce_when_ready(server: uvicorn.Server, path: Path, scheme: str) -> None:
    original = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original(sockets=sockets)
        if server.started:
            sock = server.servers[0].sockets[0]
            host, port = sock.getsockname()[:2]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(f"{host} {port} {scheme}\n")
            tmp.replace(path)

    server.startup = startup  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
