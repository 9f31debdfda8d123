"""Command line: serve · worker · demo · simulator · check · trigger · tf-status · terraform-provider."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import click
from pydantic import ValidationError

from . import __version__


def load_settings(**overrides: Any) -> Any:
    from .settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            click.echo(f"configuration error: VCFBACKUP_{field.upper()}: {err['msg']}", err=True)
        sys.exit(78)  # EX_CONFIG
    except ValueError as exc:  # e.g. an unreadable *_FILE secret
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(78)


@click.group()
@click.version_option(__version__, prog_name="vcf-backup-webhook")
def main() -> None:
    """Take VMware Cloud Foundation SDDC Manager backups from Terraform, Alertmanager, Slack and scripts."""


@main.command()
@click.option("--host", help="Address to listen on (default VCFBACKUP_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default VCFBACKUP_PORT or 8080).")
@click.option("--no-worker", is_flag=True, help="Run only the web side (run `worker` elsewhere).")
def serve(host: str | None, port: int | None, no_worker: bool) -> None:
    """Run a node: gunicorn for the web side plus a worker loop."""
    from .gunicorn_app import run_gunicorn
    from .logs import configure_logging
    from .malloc_arenas import cap_malloc_arenas

    cap_malloc_arenas()  # before any thread; gunicorn's workers inherit it through fork
    loaded = load_settings(host=host, port=port)
    settings = prepare_metrics_dir(loaded)
    configure_logging(settings.log_level)
    load_app_once(settings)
    child: subprocess.Popen[bytes] | None = None
    if not no_worker:
        nice = settings.worker_nice

        def _in_child() -> None:
            _die_with_parent()
            os.nice(nice)

        child = subprocess.Popen([sys.executable, "-m", "webhook", "worker"], preexec_fn=_in_child)
    try:
        run_gunicorn(settings)
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        if not loaded.metrics_dir:  # the directory serve made for this run: leave nothing behind
            import shutil

            shutil.rmtree(settings.metrics_dir, ignore_errors=True)


def prepare_metrics_dir(settings: Any) -> Any:
    """One fresh directory for every process's metric samples, set before prometheus_client loads."""
    import tempfile
    from pathlib import Path

    directory = Path(settings.metrics_dir or tempfile.mkdtemp(prefix="vcf-backup-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    os.environ["VCFBACKUP_METRICS_DIR"] = str(directory)  # the worker child reads it too
    return settings.model_copy(update={"metrics_dir": str(directory)})


def load_app_once(settings: Any) -> None:
    """Create the schema and fail fast on a bad database URL before forking web workers."""
    from .core.errors import StoreUnavailable
    from .wiring import build_store

    try:
        store = build_store(settings)
    except StoreUnavailable as exc:
        click.echo(f"error: {exc.message} -- {exc.remediation}", err=True)
        sys.exit(1)
    try:
        store.check_writable()
    except StoreUnavailable as exc:
        click.echo(f"error: the store cannot be written ({exc.message}) -- check that VCFBACKUP_DATABASE_URL "
                   "names a database this user may write (file and directory permissions, a read-only "
                   "mount or replica, disk space).", err=True)
        sys.exit(1)
    finally:
        store.engine.dispose()


def _die_with_parent() -> None:
    # Linux: the worker gets SIGTERM if `serve` dies (even by kill -9), so no orphan holds leases.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@main.command()
def worker() -> None:
    """Run a worker loop alone (attach, submit, poll, deliver)."""
    from .logs import configure_logging
    from .malloc_arenas import cap_malloc_arenas
    from .wiring import build_worker_store, run_worker_loop  # no Flask in the worker process

    cap_malloc_arenas()  # before any thread
    settings = load_settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_worker_loop(settings, build_worker_store(settings), stop)


@main.command()
@click.option("--port", type=int, default=8080, show_default=True, help="Port for the service (falls back to any).")
@click.option("--backup-seconds", type=float, default=8.0, show_default=True, help="How long simulated backups take.")
@click.option("--no-auto", is_flag=True, help="Do not fire a first trigger automatically.")
@click.option("--once", is_flag=True, hidden=True, help="Exit after the first callback (used by the tests).")
@click.option("--instances", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Simulate a fleet of this many SDDC Managers; the first trigger fans out to all of them.")
def demo(port: int, backup_seconds: float, no_auto: bool, once: bool, instances: int = 1) -> None:
    """Simulator + service + callback receiver on loopback; prints curl commands."""
    from .demo import run_demo

    stop_requested = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # `kill` or a stopping container cleans up like Ctrl-C
        signal.signal(sig, lambda *_: stop_requested.set())
    sys.exit(run_demo(port=port, backup_seconds=backup_seconds, auto=not no_auto, once=once,
                      echo=lambda line: click.echo(line), instances=instances, stop_requested=stop_requested))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5443, show_default=True)
@click.option("--username", default="admin@local", show_default=True)
@click.option("--password", default="VMware123!VMware123!", show_default=False, help="Password to accept.")
@click.option("--backup-seconds", type=float, default=5.0, show_default=True)
@click.option("--outcome", type=click.Choice(["SUCCESSFUL", "FAILED"]), default="SUCCESSFUL", show_default=True)
@click.option("--instances", type=click.IntRange(1, 500), default=1, show_default=True,
              help="Serve this many independent SDDC Managers on consecutive ports (prints their fleet file).")
def simulator(host: str, port: int, username: str, password: str, backup_seconds: float, outcome: str,
              instances: int = 1) -> None:
    """Run the embedded SDDC Manager simulator (same paths and JSON as SDDC Manager)."""
    from .simulator import SimulatorConfig
    from .simulator.server import serve_forever, serve_many

    config = SimulatorConfig(username=username, password=password, backup_seconds=backup_seconds, outcome=outcome)
    if instances > 1:
        serve_many(config, host, port, instances)
        return
    serve_forever(config, host, port)


@main.command()
def check() -> None:
    """Validate settings, log in to SDDC Manager, report whether backups are configured."""
    from .check import run_check

    sys.exit(run_check(load_settings(), echo=click.echo))


@main.command()
@click.option("--url", help="Service base URL (or VCFBACKUP_TRIGGER_URL).")
@click.option("--token", help="API token (prefer VCFBACKUP_TRIGGER_TOKEN: command lines are visible to others).")
@click.option("--element", "elements", multiple=True, help="BackupSpec resourceType (default SDDC_MANAGER).")
@click.option("--reason", help="Why this backup is wanted (shown in the audit trail).")
@click.option("--callback-url", help="Where the service posts the result.")
@click.option("--idempotency-key", help="Same key from the same caller -> the same trigger, no second backup.")
@click.option("--reuse-if-newer-than", help="Accept a SUCCESSFUL backup that ended this recently (e.g. 15m).")
@click.option("--wait/--no-wait", default=False, help="Wait for the backup to end; exit 0 only on success.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds to wait at most.")
@click.option("--target", help="The SDDC Manager instance to back up, by name (a fleet; GET /v1/instances).")
@click.option("--selector", "selector", multiple=True,
              help="label=value an instance must carry (repeat for more; 'all' = every instance): one backup each.")
def trigger(url: str | None, token: str | None, elements: tuple[str, ...], reason: str | None,
            callback_url: str | None, idempotency_key: str | None, reuse_if_newer_than: str | None,
            wait: bool, timeout: float, target: str | None = None, selector: tuple[str, ...] = ()) -> None:
    """Ask the service for a backup. Exit codes: 0 ok, 1 failed, 2 timed out, 3 rejected, 4 unavailable."""
    from .clients.trigger import ExitCode, TriggerClient
    from .settings import TriggerClientSettings

    env = TriggerClientSettings()
    url = url or env.trigger_url
    token = token or (env.trigger_token.get_secret_value() if env.trigger_token else None)
    if not url or not token:
        click.echo("error: --url/VCFBACKUP_TRIGGER_URL and --token/VCFBACKUP_TRIGGER_TOKEN are required", err=True)
        sys.exit(ExitCode.REJECTED)
    body: dict[str, Any] = {}
    if elements:
        body["elements"] = [{"resourceType": e} for e in elements]
    for key, value in (("reason", reason), ("callbackUrl", callback_url), ("idempotencyKey", idempotency_key),
                       ("reuseIfNewerThan", reuse_if_newer_than), ("target", target)):
        if value:
            body[key] = value
    if selector:
        pairs = [s.partition("=") for s in selector if s != "all"]
        if any(not sep or not key for key, sep, _ in pairs):
            click.echo("error: --selector takes label=value (or all)", err=True)
            sys.exit(ExitCode.REJECTED)
        body["selector"] = {key: value for key, _, value in pairs}
    client = TriggerClient(url, token, verify=env.trigger_ca_bundle or True)
    outcome = client.run(body, wait=wait, timeout=timeout, progress=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(outcome.document, indent=2))
    click.echo(outcome.message, err=True)
    sys.exit(outcome.exit_code)


@main.command("tf-status")
def tf_status() -> None:
    """For Terraform's `external` data source: the latest SUCCESSFUL backup as JSON strings (read-only)."""
    from .clients.external_status import main as run_tf_status

    sys.exit(run_tf_status(sys.stdin, sys.stdout, sys.stderr))


@main.group("terraform-provider")
def terraform_provider() -> None:
    """The vcfbackup Terraform provider (needs the [terraform] extra)."""


@terraform_provider.command("install")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Plugin directory (for `terraform init -plugin-dir DIR`); default: Terraform's implied local "
                   "mirror, ~/.terraform.d/plugins.")
def terraform_provider_install(directory: str | None) -> None:
    """Lay the provider where a plain `terraform init` finds it, offline."""
    import importlib.util
    from pathlib import Path

    from .clients.terraform_provider import SOURCE, VERSION
    from .clients.terraform_provider.install import install

    if importlib.util.find_spec("tf") is None:
        click.echo("error: the provider needs the `tf` package: pip install 'vcf-backup-webhook[terraform]'", err=True)
        sys.exit(1)
    done = install(Path(directory) if directory else None)
    click.echo(f"installed {SOURCE} {VERSION} into {done.version_dir}")
    click.echo(f"  runs with {done.python}")
    click.echo(f'  use: required_providers {{ vcfbackup = {{ source = "{SOURCE}", version = "{VERSION}" }} }}')
    if directory:
        click.echo(f"  then: terraform init -plugin-dir {done.directory}")


@main.group("db")
def db() -> None:
    """The store's schema (serve, worker and demo upgrade it at start by themselves)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the store's schema to this release now (e.g. before a rolling deploy), then say its revision."""
    from .adapters.store.migrations.migrate import current_revision
    from .wiring import build_store

    store = build_store(load_settings())  # creating the store runs the migrations, under the schema lock
    with store.engine.connect() as conn:
        click.echo(f"store schema at revision {current_revision(conn)}")
    store.engine.dispose()


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
