from __future__ import annotations

from datetime import date

from auditlog.registry import auditlog
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from fernet_fields import EncryptedDateField, EncryptedTextField


class HealthTrackUserManager(UserManager):
    def active(self):
        return self.filter(is_active=True, deleted_at__isnull=True)


class User(AbstractUser):
    class Role(models.TextChoices):
        PATIENT = "patient", "Patient"
        CLINICIAN = "clinician", "Clinician"
        ADMIN = "admin", "Administrator"

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNSPECIFIED = "unspecified", "Unspecified"

    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)
    # Encrypted at rest (Fernet); readable only through the model, never queryable.
    date_of_birth = EncryptedDateField(null=True, blank=True)
    medical_history = EncryptedTextField(blank=True, default="")
    sex = models.CharField(max_length=16, choices=Sex.choices, default=Sex.UNSPECIFIED)
    height_cm = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(40), MaxValueValidator(260)],
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    REQUIRED_FIELDS = ["email"]

    objects = HealthTrackUserManager()

    def save(self, *args, **kwargs):
        # Stored lower-case so that the unique index is also case-insensitive.
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_clinician(self) -> bool:
        return self.role == self.Role.CLINICIAN

    def age_on(self, day: date) -> int | None:
        dob = self.date_of_birth
        if dob is None:
            return None
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age(self) -> int | None:
        return self.age_on(date.today())


# Encrypted fields are excluded: auditlog would otherwise record their decrypted plaintext.
USER_AUDIT_EXCLUDE = ["password", "date_of_birth", "medical_history", "last_login"]
auditlog.register(User, exclude_fields=USER_AUDIT_EXCLUDE)


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token a user gives a third-party app (`Authorization: Token <token>`).

    Only the SHA-256 hash of the token is stored, never the token: the owner sees it once, at
    creation. `prefix` (its first characters) lets the owner tell tokens apart in a list.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


auditlog.register(ApiToken, exclude_fields=["key_hash", "last_used_at"])
