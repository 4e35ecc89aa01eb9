from __future__ import annotations

from datetime import date, datetime, timedelta

from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from fernet_fields import EncryptedDateField, EncryptedTextField

# Field validators come from the rules module; migrations name this one accounts.models.
from accounts.validation import validate_time_zone
from healthtrack.core import days


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
    # IANA name; week and month rollups (metrics.period_rollups) are cut in this zone.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    height_cm = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(40), MaxValueValidator(260)],
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # A family member profile (a child, an elderly parent) that owns health data but never logs
    # in: unusable password, refused by the login backend. See accounts.family.
    is_dependent = models.BooleanField(default=False)
    # Every JWT carries the value it was issued under (claim `cv`); raising it (a password
    # change or reset, accounts.credentials) refuses every token issued before, on the next
    # request. In the JWT user cache with the rest of the row.
    credentials_version = models.PositiveIntegerField(default=0, editable=False)

    REQUIRED_FIELDS = ["email"]

    objects = HealthTrackUserManager()

    class Meta(AbstractUser.Meta):
        # One identity per name: `demo` and `DEMO` are the same person (login matches names
        # case-insensitively). The check before these was migration 0006's.
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="A user with that e-mail address already exists.",
            ),
        ]

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


# --- Care teams, sharing, access log -------------------------------------------------------
# Writes go through accounts.care, accounts.sharing and accounts.audit; reads through the
# QuerySets below and accounts.access.

CLINICIANS_GROUP = "Clinicians"


class CareTeamQuerySet(models.QuerySet):
    def active(self) -> CareTeamQuerySet:
        return self.filter(ended_at__isnull=True)

    def for_clinician(self, clinician) -> CareTeamQuerySet:
        return self.filter(clinician=clinician)

    def for_patient(self, patient) -> CareTeamQuerySet:
        return self.filter(patient=patient)


class CareTeam(models.Model):
    """A clinician caring for a patient. Ending keeps the row (history) and stops access."""

    class Source(models.TextChoices):
        ADMIN = "admin", "Added by an administrator"
        PATIENT = "patient", "Accepted by the patient"

    clinician = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="care_team_patient_links"
    )
    patient = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="care_team_clinician_links"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CareTeamQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinician", "patient"],
                condition=models.Q(ended_at__isnull=True),
                name="care_team_one_active_per_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(clinician=models.F("patient")),
                name="care_team_not_self",
            ),
        ]
        indexes = [
            models.Index(fields=["clinician", "ended_at"], name="care_team_clinician_idx"),
            models.Index(fields=["patient", "ended_at"], name="care_team_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} → {self.patient}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class ShareGrantQuerySet(models.QuerySet):
    def active(self, now=None) -> ShareGrantQuerySet:
        """Not revoked and not expired at `now`."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())

    def for_grantee(self, user) -> ShareGrantQuerySet:
        return self.filter(kind=ShareGrant.Kind.CLINICIAN, grantee=user)


class ShareGrant(models.Model):
    """A patient's share of some metric types over a date window, with a named clinician or
    by a link plus access code, until `expires_at` or revocation.

    Only hashes of the link token and of the access code are stored; both are shown once.
    """

    class Kind(models.TextChoices):
        CLINICIAN = "clinician", "Named clinician"
        LINK = "link", "Link with access code"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="share_grants")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    grantee = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="share_grants_received",
    )
    label = models.CharField(max_length=100, blank=True)
    # Metric type codes (strings owned by the metrics app), e.g. ["blood_pressure", "steps"].
    metric_types = models.JSONField(default=list)
    date_from = models.DateField()
    date_to = models.DateField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the link token (the token is looked up, so a fast hash of a 256-bit secret).
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Django password hash of the access code (slow, salted).
    code_hash = models.CharField(max_length=256, blank=True)

    objects = ShareGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_from__lte=models.F("date_to")),
                name="share_grant_window_ordered",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="clinician", grantee__isnull=False, token_hash__isnull=True)
                    | models.Q(kind="link", grantee__isnull=True, token_hash__isnull=False)
                ),
                name="share_grant_kind_fields",
            ),
        ]
        indexes = [
            models.Index(fields=["grantee", "owner"], name="share_grant_grantee_idx"),
        ]

    def __str__(self) -> str:
        who = self.grantee if self.kind == self.Kind.CLINICIAN else "link"
        return f"{self.owner} → {who} ({self.date_from}–{self.date_to})"

    def is_active(self, now=None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())

    def window_bounds(self) -> tuple[datetime, datetime]:
        """The shared days [date_from, date_to], the owner's local days (healthtrack.core.days),
        as [start, end) instants."""
        tz = days.zone_of(self.owner_id)
        end = days.day_start(self.date_to + timedelta(days=1), tz)
        return days.day_start(self.date_from, tz), end

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class AppendOnlyError(Exception):
    """Raised on an attempt to change or delete an append-only audit row."""


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Access log rows are never changed.")

    def delete(self):
        raise AppendOnlyError("Access log rows are deleted only by `prune_audit_log`.")

    def _prune(self) -> int:
        """The retention job's delete; nothing else deletes access log rows."""
        return super().delete()[0]


class AccessLog(models.Model):
    """A read of someone's health data by anyone other than its owner. Append-only.

    The user references keep their ids even after a user is purged (no FK constraint, no
    cascade), so the trail outlives the accounts it mentions.
    """

    class Via(models.TextChoices):
        CARE_TEAM = "care_team", "Care team"
        FAMILY = "family", "Family member"
        SHARE_GRANT = "share_grant", "Share grant"
        SHARE_LINK = "share_link", "Share link"
        ADMIN = "admin", "Admin"
        APP = "app", "Connected app"
        OTHER = "other", "Other"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # Username at the time (or "share link"), kept when the account is gone.
    actor_label = models.CharField(max_length=150)
    owner = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    via = models.CharField(max_length=16, choices=Via.choices)
    share_grant = models.ForeignKey(
        ShareGrant,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # What was read: a model row ("metrics.healthmetric" + pk) and/or an endpoint.
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    endpoint = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["owner", "-at"], name="access_log_owner_at_idx")]

    def __str__(self) -> str:
        return f"{self.actor_label} read data of user {self.owner_id} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Access log rows are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Access log rows are deleted only by `prune_audit_log`.")


auditlog.register(CareTeam)
# The hashes are secrets' derivatives: never copied into the change history.
auditlog.register(ShareGrant, exclude_fields=["token_hash", "code_hash"])
# AccessLog is itself the audit trail (append-only); it is not registered with auditlog, which
# would only duplicate each read as a "create" row.


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


# --- Login lock-out ----------------------------------------------------------------------------
# Writes go through accounts.lockout. (The task outbox and Idempotency-Key answers live in
# healthtrack.core.models: plumbing, not people.)


class LoginLockout(models.Model):
    """Consecutive failed logins of one account, and the lock they led to.

    In the database rather than the cache: every process sees it, a Redis outage or eviction
    cannot lift a lock, and it is written only on failures (and cleared by a success)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="login_lockout"
    )
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login lock-out of user {self.user_id}"


class UnknownLoginLockout(models.Model):
    """Failed logins with a name that is no account, counted like `LoginLockout` so that a
    lock-out looks the same for unknown names as for real accounts (no enumeration). Keyed by
    the SHA-256 of the lower-cased name (the name itself is not kept)."""

    login_hash = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login lock-out of an unknown name {self.login_hash[:8]}…"


class RevokedToken(models.Model):
    """A revoked JWT id (`jti`): one access token, or a refresh-token family (the `fam` claim
    every token of the family carries). Kept until the tokens it stands for have expired.
    Read through the JWT user cache (accounts.api.jwt_authentication), so a revocation applies on
    the next request; the database is the list's source of truth."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="revoked_tokens")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "jti"], name="revoked_token_one_per_jti")
        ]

    def __str__(self) -> str:
        return f"revoked token of user {self.user_id}"


# --- Families ---------------------------------------------------------------------------------
# Writes go through accounts.family; the access rules live in accounts.access.


class FamilyMembershipQuerySet(models.QuerySet):
    def live(self) -> FamilyMembershipQuerySet:
        """Memberships whose member profile is not deleted."""
        return self.filter(member__deleted_at__isnull=True)

    def managing(self) -> FamilyMembershipQuerySet:
        return self.filter(role=FamilyMembership.Role.MANAGER)


class FamilyMembership(models.Model):
    """`manager` acts for `member`: a dependent profile they created, or an existing user who
    granted them access by e-mail. Role "manager" reads and writes the member's health data,
    "read_only" (for example a doctor invited by the family) only reads it."""

    class Role(models.TextChoices):
        MANAGER = "manager", "Family manager"
        READ_ONLY = "read_only", "Read only"

    class Relation(models.TextChoices):
        CHILD = "child", "Child"
        PARENT = "parent", "Parent"
        PARTNER = "partner", "Partner"
        SIBLING = "sibling", "Sibling"
        GRANDPARENT = "grandparent", "Grandparent"
        SELF = "self", "Self (access granted by the member)"
        CARER = "carer", "Carer"
        DOCTOR = "doctor", "Doctor"
        OTHER = "other", "Other"

    manager = models.ForeignKey(User, on_delete=models.CASCADE, related_name="family_managed")
    member = models.ForeignKey(User, on_delete=models.CASCADE, related_name="family_managers")
    relation = models.CharField(max_length=16, choices=Relation.choices, default=Relation.OTHER)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MANAGER)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = FamilyMembershipQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["manager", "member"], name="family_one_per_pair"),
            models.CheckConstraint(
                condition=~models.Q(manager=models.F("member")), name="family_not_self"
            ),
        ]
        indexes = [models.Index(fields=["member", "role"], name="family_member_role_idx")]

    def __str__(self) -> str:
        return f"{self.manager} → {self.member} ({self.role})"


auditlog.register(FamilyMembership)


class OtpEnrolmentLink(models.Model):
    """A one-time link with which a staff user sets up their second factor (accounts.otp).

    Issued by an administrator (the admin's users list) or `manage.py otp_enrol --link`; valid
    OTP_ENROL_LINK_HOURS (24 h), used once, only by the account it names, signed in with its
    password. Only the SHA-256 hash of the token is stored; the link is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="otp_enrolment_links")
    token_hash = models.CharField(max_length=64, unique=True)
    issued_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"two-factor enrolment link for {self.user_id}"


# Issuing and using a link is logged in the change history (the hash never is).
auditlog.register(OtpEnrolmentLink, exclude_fields=["token_hash"])


class ConnectedAppQuerySet(models.QuerySet):
    def live(self) -> ConnectedAppQuerySet:
        return self.filter(revoked_at__isnull=True)


class ConnectedApp(models.Model):
    """A patient's consent that an OAuth app (django-oauth-toolkit Application) may read their
    data with `scope`: given on the consent page by the patient or a family manager acting for
    them, ended by revoking it (accounts/oauth.py). The app's tokens are issued to `patient`
    and work only while this row is live."""

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="connections",
    )
    patient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="connected_apps")
    approved_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scope = models.TextField(help_text="Space-separated scopes the patient approved.")
    created_at = models.DateTimeField(default=timezone.now)
    last_read_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ConnectedAppQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "patient"],
                condition=models.Q(revoked_at__isnull=True),
                name="connected_app_one_live_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} for {self.patient}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


auditlog.register(ConnectedApp, exclude_fields=["last_read_at"])
