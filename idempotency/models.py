from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` an organization sent with a write, and the response it got.

    The unique (organization, key) row is the lock: the request that inserts it does the work; any other
    request with that key finds it in progress (and waits, then 409) or done (and gets the stored response).
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    # A string reference, so this app imports nothing from pms_core.
    organization = models.ForeignKey("pms_core.Organization", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of the method, the path with its query and the (canonical JSON) body: "the same request".
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    # Which request holds it: a taken-over claim must not be finished by the request that abandoned it.
    claim = models.CharField(max_length=32)
    locked_at = models.DateTimeField()
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique_per_organization")
        ]

    def __str__(self):
        return f"{self.organization_id}:{self.key} ({self.state})"
