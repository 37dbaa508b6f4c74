"""Services for an organization's webhook subscriptions: create, change, rotate the secret, replay."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from adapters import safe_http
from adapters.base import PlatformAPIError
from integrations import signing
from integrations.delivery import WHAT, allow_private_network
from integrations.models import EventSequence, WebhookEvent, WebhookSubscription
from integrations.relay import EVENT_RETENTION

log = logging.getLogger(__name__)

MAX_GRACE = dt.timedelta(days=7)
DEFAULT_GRACE = dt.timedelta(hours=24)


class SubscriptionError(ValueError):
    """Input the subscription cannot take; ``field`` names it. The API answers 400."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class SubscriptionStateError(ValueError):
    """The subscription's state forbids the operation (replay while disabled). The API answers 409."""


def url_check(url: str) -> str:
    """``url`` if a delivery may go there now (same rules as iCal feeds), else ``SubscriptionError``."""
    try:
        return safe_http.checked_url(url, allow_private_network=allow_private_network(), what=WHAT)
    except PlatformAPIError as exc:
        raise SubscriptionError("url", str(exc)) from exc


MAX_SUBSCRIPTIONS = 20


def _current_sequence(organization_id: int) -> int:
    return EventSequence.objects.filter(organization_id=organization_id).values_list("last", flat=True).first() or 0


def subscription_create(
    *, organization_id: int, url: str, event_types: list[str], active: bool = True, description: str = ""
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (shown this once). It gets the events from now on."""
    # Each subscription costs every event a signed POST from our servers and a delivery run: a bounded
    # number per organization (Stripe allows 16 endpoints an account), so one token cannot fan a flood out.
    if WebhookSubscription.objects.filter(organization_id=organization_id).count() >= MAX_SUBSCRIPTIONS:
        raise SubscriptionError(
            "url", f"an organization may have at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first"
        )
    url_check(url)
    secret = signing.secret_new()
    subscription = WebhookSubscription.objects.create(
        organization_id=organization_id,
        url=url.strip(),
        event_types=sorted(set(event_types)),
        active=active,
        description=description,
        secret=secret,
        delivered_sequence=_current_sequence(organization_id),
    )
    return subscription, secret


def subscription_update(*, subscription: WebhookSubscription, **changes) -> WebhookSubscription:
    """Change url, event_types, active or description. Activating it, or pointing it at another URL,
    clears its failures and tries at once (a disabled one then gets what it missed meanwhile)."""
    if "url" in changes:
        changes["url"] = url_check(changes["url"]) and changes["url"].strip()
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    retry_now = changes.get("active") or changes.get("url", subscription.url) != subscription.url
    if retry_now:
        changes.update(
            disabled_at=None, disabled_reason="", failed_attempts=0, failing_since=None, next_attempt_at=None
        )
    for name, value in changes.items():
        setattr(subscription, name, value)
    # Only these columns: a delivery run may be moving the cursor meanwhile.
    subscription.save(update_fields=[*changes, "updated_at"])
    if retry_now:
        transaction.on_commit(lambda: subscription_kick(subscription_id=subscription.pk))
    return subscription


def secret_rotate(
    *, subscription: WebhookSubscription, grace: dt.timedelta = DEFAULT_GRACE, now: dt.datetime | None = None
) -> str:
    """A new secret (shown this once); the old one keeps signing beside it for ``grace``."""
    if not dt.timedelta(0) <= grace <= MAX_GRACE:
        raise SubscriptionError("grace_seconds", f"must be between 0 and {int(MAX_GRACE.total_seconds())}")
    now = now or timezone.now()
    secret = signing.secret_new()
    subscription.previous_secret = subscription.secret if grace else ""
    subscription.previous_secret_expires_at = now + grace if grace else None
    subscription.secret = secret
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return secret


def subscription_replay(*, subscription: WebhookSubscription, since: int) -> int:
    """Send again, in order, every event after sequence ``since`` that the subscription takes; returns
    the last sequence the replay covers. Later events follow as usual."""
    if not subscription.active:
        raise SubscriptionStateError("the subscription is not active; activate it first")
    current = _current_sequence(subscription.organization_id)
    if since > current:
        raise SubscriptionError("since", f"beyond the last sequence number ({current})")
    # Sequence numbers have no gaps (``outbox.sequence_next``), so a first kept event past ``since + 1``
    # means the ones between were pruned: replaying "from since" would silently skip them. ``since=0``
    # asks for everything kept, as documented.
    oldest = WebhookEvent.objects.filter(organization_id=subscription.organization_id).aggregate(
        oldest=Min("sequence")
    )["oldest"]
    first_kept = oldest if oldest is not None else current + 1
    if 0 < since < current and first_kept > since + 1:
        raise SubscriptionError(
            "since",
            f"events {since + 1} to {first_kept - 1} are past their {EVENT_RETENTION.days}-day retention and "
            f"cannot be sent again; the oldest kept is {first_kept} (since={first_kept - 1})"
            if first_kept <= current
            else f"every event up to {current} is past its {EVENT_RETENTION.days}-day retention",
        )
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        delivered_sequence=since,
        replay_until=current,
        failed_attempts=0,
        failing_since=None,
        next_attempt_at=None,
    )
    transaction.on_commit(lambda: subscription_kick(subscription_id=subscription.pk))
    return current


def subscription_kick(*, subscription_id: int) -> None:
    """Ask a worker to run the subscription's deliveries (the relay's sweep does it too, if this is lost)."""
    from integrations.tasks import deliver_webhooks

    try:
        deliver_webhooks.send(subscription_id)
    except Exception as exc:  # broker down: the sweep picks it up
        log.warning("webhook subscription %s not handed to the broker: %s", subscription_id, exc)
