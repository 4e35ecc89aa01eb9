"""Usernames and e-mails unique whatever their case (one identity per name).

Existing case variants (`demo` beside `DEMO`) cannot be merged automatically: which account
is the person's, which holds the data? The migration stops and lists them for an
administrator, who renames or merges them (admin or shell) and runs `migrate` again."""

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_case_variants(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    problems = []
    for field, label in (("username", "username"), ("email", "e-mail")):
        keyed = User.objects.annotate(key=Lower(field))
        clashes = keyed.values("key").annotate(n=Count("id")).filter(n__gt=1).order_by("key")
        for clash in clashes:
            accounts = keyed.filter(key=clash["key"]).order_by("id")
            listed = ", ".join(
                f"id {pk} (username {username!r}, e-mail {email!r})"
                for pk, username, email in accounts.values_list("id", "username", "email")
            )
            problems.append(f"  {label} {clash['key']!r}: {listed}")
    if problems:
        raise RuntimeError(
            "Accounts whose usernames or e-mails differ only in case. Rename or merge them "
            "(keep one account per name), then run migrate again:\n" + "\n".join(problems)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_otp_enrolment_link"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(refuse_case_variants, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                Lower("username"),
                name="user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="A user with that e-mail address already exists.",
            ),
        ),
    ]
