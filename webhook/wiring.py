"""How a node's parts are built from its settings: the store, the services, the worker and its clients.

Nothing here imports Flask or the web layer, so the worker loop (``vcf-backup-webhook worker`` and the
one ``serve`` starts) does not carry them: about 12 MB less in that process. ``app.py`` builds the web
side on top of this.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .adapters.doorbell import Doorbell, doorbell_dir
from .adapters.metrics import PrometheusMetrics
from .adapters.notifiers import NotifierRouter, WebhookNotifier
from .adapters.reachability import ReachabilityProbe
from .adapters.sddc_manager import SddcManagerClient
from .adapters.store import SqliteMemory, SqlStore
from .core.callbacks import CallbackPolicy, HostAllowlist
from .core.clock import SystemClock
from .core.delivery_policy import DeliveryPolicy
from .core.metrics import Metrics
from .core.ports import Clock, Notifier, SddcManager, Store
from .core.reachability import TrackedSddcManager
from .core.service import TriggerService
from .core.status import StatusService
from .core.worker import Worker
from .core.worker_config import WorkerConfig
from .settings import Settings
from .sources import Source, registered, started_kinds


@dataclass
class Services:
    """Everything a node runs with; tests build one around their own parts."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    wake: Callable[[], None] | None = None
    metrics: Metrics = field(default_factory=PrometheusMetrics)

    def status_service(self) -> StatusService:
        return StatusService(self.store, self.clock, worker_stale_after=self.settings.worker_stale_after)

    def trigger_service(self) -> TriggerService:
        return TriggerService(self.store, self.clock, callback_policy(self.settings), wake=self.wake,
                              metrics=self.metrics,
                              max_waiters=self.settings.max_waiters or max(1, self.settings.web_threads // 2),
                              fleet=self.settings.fleet(), reachability=self.reachability())

    def reachability(self) -> ReachabilityProbe:
        return ReachabilityProbe({i.name: i.url for i in self.settings.fleet_instances()},
                                 timeout=min(2.0, self.settings.sddc_connect_timeout))


def callback_policy(settings: Settings) -> CallbackPolicy:
    return CallbackPolicy(HostAllowlist.of(settings.callback_allowed_hosts), allow_http=settings.callback_allow_http)


def settings_section(settings: Settings, section: str | None) -> dict[str, Any]:
    """The fields ``<section>_*`` of the settings, the prefix stripped (a source's own settings)."""
    if not section:
        return {}
    prefix = f"{section}_"
    return {name.removeprefix(prefix): getattr(settings, name)
            for name in type(settings).model_fields if name.startswith(prefix)}


def source_configs(settings: Settings, sources: Iterable[Source] | None = None) -> dict[str, object]:
    """Each registered source's config, built from its settings section."""
    policy = callback_policy(settings)
    return {source.name: source.configure(settings_section(settings, source.settings_section), policy)
            for source in (registered() if sources is None else sources) if source.configure is not None}


def load(reference: str) -> Any:
    """``"package.module:attribute"`` or ``"package.module"`` → the object (the registry names outer layers so)."""
    module, _, attribute = reference.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def build_store(settings: Settings, *, sqlite_memory: SqliteMemory | None = None) -> SqlStore:
    store = SqlStore.from_url(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                              sqlite_memory=sqlite_memory)
    store.ride_at_intake(started_kinds())
    return store


def build_worker_store(settings: Settings) -> SqlStore:
    """The worker loop's store: SQLite's statement and page caches capped (the storm's memory, issue 17)."""
    return build_store(settings, sqlite_memory=SqliteMemory())


def build_services(settings: Settings) -> Services:
    bell = Doorbell(doorbell_dir(settings.database_url))
    store = build_store(settings)
    return Services(settings=settings, store=store, wake=bell.coalesced(store.trigger_commits))


def build_sddc_client(settings: Settings) -> SddcManagerClient:
    return SddcManagerClient(
        settings.sddc_url, settings.sddc_username, settings.sddc_password_value(),
        verify=settings.tls_verify(), connect_timeout=settings.sddc_connect_timeout,
        read_timeout=settings.sddc_read_timeout,
    )


def build_sddc_clients(settings: Settings) -> dict[str, SddcManager]:
    """One client per instance of the fleet: ``default`` from VCFBACKUP_SDDC_*, the rest from the fleet file."""
    clients: dict[str, SddcManager] = {}
    for instance in settings.fleet_instances():
        if instance.name == "default" and instance.password_file is None and instance.password_env is None:
            clients[instance.name] = build_sddc_client(settings)
            continue
        clients[instance.name] = SddcManagerClient(
            instance.url, instance.username, instance.password(), verify=instance.tls_verify(),
            connect_timeout=settings.sddc_connect_timeout, read_timeout=settings.sddc_read_timeout)
    return clients


def build_notifier(settings: Settings, store: Store | None = None) -> Notifier:
    secret = settings.callback_signing_secret.get_secret_value() if settings.callback_signing_secret else None
    notifiers: dict[str, Notifier] = {
        "webhook": WebhookNotifier(callback_policy(settings), secret, timeout=settings.callback_timeout)}
    configs = source_configs(settings)
    for source in registered():
        if source.notifier and source.notifier_kind:
            make = load(source.notifier)
            notifiers[source.notifier_kind] = make(configs.get(source.name), store=store,
                                                   timeout=settings.callback_timeout)
    return NotifierRouter(notifiers)


def build_worker(
    settings: Settings, store: Store, *, sddc: SddcManager | Mapping[str, SddcManager] | None = None,
    notifier: Notifier | None = None,
    clock: Clock | None = None, worker_id: str | None = None,
) -> Worker:
    config = WorkerConfig(
        lease_seconds=settings.worker_lease, poll_initial=settings.poll_interval,
        poll_max=settings.poll_max_interval, backup_timeout=settings.backup_timeout, retention=settings.retention,
        attempt_deadline=settings.callback_timeout, sddc_probe_every=settings.sddc_probe_interval or None,
        instance_threads=settings.instance_threads,
    )
    if worker_id:
        config = replace(config, worker_id=worker_id)
    clock = clock or SystemClock()
    clients = sddc if sddc is not None else build_sddc_clients(settings)
    tracked: SddcManager | dict[str, SddcManager]
    if isinstance(clients, Mapping):  # each instance's reachability recorded under its own name
        tracked = {name: TrackedSddcManager(client, store, clock, instance=name) for name, client in clients.items()}
    else:
        tracked = TrackedSddcManager(clients, store, clock)
    return Worker(store, tracked, notifier or build_notifier(settings, store), clock, config,
                  DeliveryPolicy(budget_seconds=settings.callback_budget, started_event_kinds=started_kinds()),
                  metrics=PrometheusMetrics())


def run_worker_loop(settings: Settings, store: Store, stop: threading.Event, **kwargs: object) -> None:
    """A worker loop woken by the doorbell; returns when ``stop`` is set."""
    worker = build_worker(settings, store, **kwargs)  # type: ignore[arg-type]
    wake = threading.Event()
    Doorbell(doorbell_dir(settings.database_url)).listen(worker.owner, wake, stop)
    def wake_on_stop() -> None:
        stop.wait()
        wake.set()

    stopper = threading.Thread(target=wake_on_stop, daemon=True)
    stopper.start()
    worker.run_forever(stop, wake)
