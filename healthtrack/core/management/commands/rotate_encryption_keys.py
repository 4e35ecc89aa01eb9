"""Re-encrypt every encrypted field under the first key of FERNET_KEYS.

Rotation: put a new key first in FERNET_KEYS (keep the old ones after it), deploy, run this
command, then drop the old keys. Encrypted values kept outside the database (the lifecycle
archive's notes) are re-encrypted by the hooks the apps register in their `ready()`
(healthtrack.core.hooks).
Batched and resumable: rows already under the new key are skipped, so re-running after an
interruption continues where it stopped.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from healthtrack.core import hooks
from healthtrack.core.encryption import encrypted_fields, rotate_model_field


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key of FERNET_KEYS (resumable)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        total = 0
        for model, names in encrypted_fields():
            for name in names:
                rotated, current = rotate_model_field(model, name, batch_size=batch_size)
                total += rotated
                self.stdout.write(
                    f"{model._meta.label}.{name}: {rotated} re-encrypted, {current} already current"
                )
        # Registered by the apps that keep encrypted values elsewhere: core imports none.
        for hook in hooks.encryption_rotation_hooks():
            self.stdout.write(hook())
        self.stdout.write(self.style.SUCCESS(f"Done: {total} values re-encrypted."))
