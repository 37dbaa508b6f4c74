"""Each platform's settings, read from the environment under the prefix its adapter declares.

``settings.PLATFORMS[slug]`` holds, for every platform the registry finds:
``enabled``, ``base_url``, ``rate_limit``/``rate_window`` (None when it has no shared limit),
``poll_seconds`` (None when it is not polled), the OAuth client, ``webhook_secrets``, and the
adapter's ``extra_settings`` under their own names.
"""

from __future__ import annotations

from adapters.base import PlatformAdapter
from adapters.registry import env_prefix
from config.env import env, positive_float, positive_int, read


def platform_settings(
    cls: type[PlatformAdapter], *, debug: bool, sandbox_url: str, public_base_url: str
) -> dict[str, object]:
    prefix = env_prefix(cls)
    short = cls.slug.split("_")[0]
    values: dict[str, object] = {
        "enabled": read(f"{prefix}_ENABLED", env.bool, True),
        "base_url": read(f"{prefix}_API_BASE", env.str, f"{sandbox_url}/{cls.slug}").rstrip("/"),
        "rate_limit": None,
        "rate_window": None,
        "poll_seconds": None,
        "oauth_client_id": read(f"{prefix}_CLIENT_ID", env.str, f"sandbox-{short}-client"),
        "oauth_client_secret": read(f"{prefix}_CLIENT_SECRET", env.str, f"sandbox-{short}-secret"),
        # More than one secret may be active while a secret is being rotated. The sandbox's secrets are
        # public, so they stand in only in DEBUG (embedded) mode: in production an unset secret refuses
        # every webhook rather than accepting ones anybody can sign.
        "webhook_secrets": read(f"{prefix}_WEBHOOK_SECRETS", env.list, [])
        or (list(cls.sandbox_webhook_secrets) if debug else []),
    }
    if cls.rate_limit is not None:
        values["rate_limit"] = positive_int(f"{prefix}_RATE_LIMIT", cls.rate_limit.requests)
        values["rate_window"] = positive_float(f"{prefix}_RATE_WINDOW", cls.rate_limit.window_seconds)
    if cls.polling is not None:
        values["poll_seconds"] = positive_int(f"{prefix}_POLL_SECONDS", cls.polling.every_seconds)
    names = {"public_base_url": public_base_url, "sandbox_url": sandbox_url, "webhook_path": cls.webhook_path}
    for setting in cls.extra_settings:
        default = setting.sandbox_default if debug and setting.sandbox_default is not None else setting.default
        values[setting.name] = read(f"{prefix}_{setting.name}", env.str, default.format(**names))
    return values
