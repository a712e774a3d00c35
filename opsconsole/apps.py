import os

from django.apps import AppConfig


class OpsConsoleConfig(AppConfig):
    name = "opsconsole"
    verbose_name = "Console"

    def ready(self):
        from django.core import checks
        from django.core.signals import got_request_exception
        from django.db.backends.signals import connection_created
        from django.db.models.signals import pre_save
        from django_q.signals import post_execute_in_worker, pre_execute

        # Imported for its fork hook: a forked child drops its parent's pools.
        from opsconsole import audit, connections, errors, inputguard, joblog, sockets
        from opsconsole.configcode import register_section
        from opsconsole.exposition import register_series
        from opsconsole.live import socket_series
        from opsconsole.overload import busy_series
        from opsconsole.thresholds import ThresholdsSection

        got_request_exception.connect(errors.on_request_exception, dispatch_uid="ops.errors")
        # A pool checks the connections that sat idle, not every one it lends.
        connection_created.connect(connections.install_pool_check, dispatch_uid="ops.pool")
        checks.register(shared_key_check, checks.Tags.security)
        # Every model, every save: values the database cannot store are refused by name.
        pre_save.connect(inputguard.check_storable, dispatch_uid="ops.inputguard")
        pre_execute.connect(joblog.on_pre_execute, dispatch_uid="ops.joblog.pre")
        post_execute_in_worker.connect(joblog.on_post_execute, dispatch_uid="ops.joblog.post")
        post_execute_in_worker.connect(errors.scrub_task_result, dispatch_uid="ops.errors.task")
        errors.install_task_reporter()
        register_section(ThresholdsSection())
        register_series("websockets", socket_series)
        register_series("busy", busy_series)
        audit.connect()
        sockets.connect()
        _connect_token_copies()
        _import_backends()

        # `manage.py serve` runs the ticker as a thread of the web process (it only
        # enqueues, a few queries a minute) instead of a separate Django process.
        if os.environ.get("OPSCONSOLE_TICKER_THREAD") == "1":
            from opsconsole.ticker import start_in_thread

            start_in_thread()


def _import_backends() -> None:
    """Import the cache's and the channel layer's client libraries at start.

    Django's Redis cache imports redis-py on its first use: about 180 ms, which the
    first live event after a start (or a worker's first collection) used to pay.
    """
    from django.conf import settings
    from django.utils.module_loading import import_string

    for layer in getattr(settings, "CHANNEL_LAYERS", {}).values():
        import_string(layer["BACKEND"])
    for cache in settings.CACHES.values():
        import_string(cache["BACKEND"])
        if cache["BACKEND"].endswith("RedisCache"):
            import redis  # noqa: F401


def shared_key_check(app_configs=None, **kwargs):
    """A console on a shared database with a key generated on this machine: fine while
    every role runs here, refused sessions and links once a second machine joins."""
    from django.conf import settings
    from django.core import checks

    shared = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if not (shared and settings.SECRET_KEY_GENERATED):
        return []
    return [
        checks.Warning(
            "SECRET_KEY is not set: this machine signs with its own key from var/secret_key",
            hint="Set SECRET_KEY (or SECRET_KEY_FILE) to one key on every machine before "
            "running web processes, workers or the delivery lane on more than one.",
            id="opsconsole.W001",
        )
    ]


def _connect_token_copies() -> None:
    """Every process keeps the API tokens it has read (opsconsole.auth): any change to a
    token, a user or a group membership makes them all read again."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from opsconsole.auth import token_changed
    from opsconsole.models import ApiToken

    user = get_user_model()
    for model in (ApiToken, user, Group):
        post_save.connect(token_changed, sender=model, dispatch_uid=f"ops.tokens.save.{model}")
        post_delete.connect(token_changed, sender=model, dispatch_uid=f"ops.tokens.del.{model}")
    m2m_changed.connect(token_changed, sender=user.groups.through, dispatch_uid="ops.tokens.groups")
