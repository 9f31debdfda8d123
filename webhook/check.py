"""``vcf-backup-webhook check``: what is configured (secrets masked), and whether it works."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from .adapters.sddc_manager import SddcManagerClient
from .core.errors import ServiceError
from .fleet_settings import InstanceSettings
from .settings import SECRET_FIELDS, Settings
from .wiring import build_sddc_client, build_store


def describe_settings(settings: Settings) -> list[str]:
    lines = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        shown = ("(set, hidden)" if value else "(not set)") if name in SECRET_FIELDS else repr(value)
        lines.append(f"  VCFBACKUP_{name.upper()} = {shown}")
    return lines


def run_check(settings: Settings, echo: Callable[[str], None]) -> int:
    problems: list[str] = []
    echo("Configuration:")
    for line in describe_settings(settings):
        echo(line)
    if not settings.api_tokens:
        problems.append("No API tokens: every /v1/triggers request is refused. Set VCFBACKUP_API_TOKENS=name:token.")
    if not settings.callback_allowed_hosts:
        problems.append("No callback hosts allowed: every callbackUrl is refused. "
                        "Set VCFBACKUP_CALLBACK_ALLOWED_HOSTS.")
    if not settings.callback_signing_secret:
        problems.append("Callbacks are unsigned. Set VCFBACKUP_CALLBACK_SIGNING_SECRET (whsec_<base64>).")
    echo("Checking the store (VCFBACKUP_DATABASE_URL) ...")
    try:
        store = build_store(settings)
        store.ping()
        store.check_writable()
        echo("Store: reachable and writable")
    except ServiceError as exc:
        problems.append(f"Store: {exc.message} Check VCFBACKUP_DATABASE_URL.")
    if settings.sddc_managers_file and not settings.sddc_url:
        pass  # a fleet without the single-instance variables: its instances are checked below
    elif not settings.sddc_url or not settings.sddc_username or not settings.sddc_password:
        problems.append("SDDC Manager: set VCFBACKUP_SDDC_URL, VCFBACKUP_SDDC_USERNAME and VCFBACKUP_SDDC_PASSWORD.")
    elif urlsplit(settings.sddc_url).scheme not in ("http", "https") or not urlsplit(settings.sddc_url).hostname:
        problems.append(f"SDDC Manager: VCFBACKUP_SDDC_URL={settings.sddc_url!r} is not a URL with a scheme; write "
                        f"it as https://{settings.sddc_url.split('://')[-1].strip('/')}")
    else:
        client = build_sddc_client(settings)
        echo(f"Logging in to SDDC Manager at {settings.sddc_url} as {settings.sddc_username} (gives up after "
             f"{settings.sddc_connect_timeout:g} s to connect, {settings.sddc_read_timeout:g} s to answer) ...")
        try:
            client.login()
            echo(f"SDDC Manager: logged in to {settings.sddc_url} as {settings.sddc_username}")
            config = client.backup_configuration()
            if config.get("isConfigured"):
                echo("SDDC Manager: backups are configured (isConfigured=true)")
            else:
                problems.append("SDDC Manager: backups are not configured (isConfigured=false). Configure an SFTP "
                                "backup location and passphrase in SDDC Manager (Administration > Backup).")
        except ServiceError as exc:
            problems.append(f"SDDC Manager: {exc.message} -- {exc.remediation}")
    if settings.sddc_managers_file:
        problems += check_fleet(settings, echo)
    for problem in problems:
        echo(f"PROBLEM: {problem}")
    echo("OK" if not problems else f"{len(problems)} problem(s) found")
    return 0 if not problems else 1


def check_fleet(settings: Settings, echo: Callable[[str], None]) -> list[str]:
    """Log in to every instance of the fleet file, at once (one slow instance does not hold the others up)."""
    instances = [i for i in settings.fleet_instances() if i.name != "default" or not settings.sddc_url]
    echo(f"Checking {len(instances)} instance(s) of {settings.sddc_managers_file} ...")

    def one(instance: InstanceSettings) -> tuple[str, str | None]:
        try:
            client = SddcManagerClient(instance.url, instance.username, instance.password(),
                                       verify=instance.tls_verify(), connect_timeout=settings.sddc_connect_timeout,
                                       read_timeout=settings.sddc_read_timeout)
            client.login()
            configured = client.backup_configuration().get("isConfigured")
        except ServiceError as exc:
            return instance.name, f"{exc.message} -- {exc.remediation}"
        except ValueError as exc:  # an unreadable password_file
            return instance.name, str(exc)
        if not configured:
            return instance.name, "logged in, but backups are not configured (isConfigured=false)"
        return instance.name, None

    problems = []
    with ThreadPoolExecutor(max(1, min(16, len(instances)))) as pool:
        for (name, problem), instance in zip(pool.map(one, instances), instances, strict=True):
            if problem is None:
                echo(f"Instance {name}: logged in to {instance.url} as {instance.username}; backups are configured")
            else:
                echo(f"Instance {name}: PROBLEM")
                problems.append(f"Instance {name} ({instance.url}): {problem}")
    return problems
