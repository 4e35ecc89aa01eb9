"""Forms of the browser pages. The rules live where the API finds them too: the password
validators (AUTH_PASSWORD_VALIDATORS), the model's fields and validators, and
`accounts.services.user_register_request`. These forms only collect input and report errors."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import User

PROFILE_FIELDS = ["first_name", "last_name", "date_of_birth", "sex", "height_cm", "medical_history"]


def _past_birth_date(value):
    """A date of birth between 1900 and today (as family members' profiles require)."""
    if value is not None and (value > date.today() or value.year < 1900):
        raise ValidationError("Give a date of birth between 1900 and today.")
    return value


class LoginForm(auth_forms.AuthenticationForm):
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": (
            "That username or e-mail and password do not match an account. "
            "Check both and try again."
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username or e-mail"
        self.fields["username"].max_length = 254
        self.fields["username"].widget.attrs.update(maxlength=254, autocomplete="username")


class SignupForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @ . + - _ only. You can log in with it or your e-mail.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text=(
            "At least 8 characters, with an upper-case letter, a digit and a special character."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        # Normalised as the API does, so the unique check sees the stored form.
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords do not match.")
        return cleaned

    def save(self, *, base_url: str) -> bool:
        """Register through the same service as the API (which answers the same whether or
        not the name or address is taken). On a rule about the input itself (password
        strength, the form of the username) the errors land on the fields and False is
        returned."""
        try:
            services.user_register_request(
                base_url=base_url,
                email=self.cleaned_data["email"],
                username=self.cleaned_data["username"],
                password=self.cleaned_data["password1"],
            )
        except ValidationError as exc:
            self._add_service_errors(exc)
            return False
        return True

    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error("password1", exc)  # validate_password raises a plain list
            return
        for name, errors in exc.error_dict.items():
            field = {"password": "password1"}.get(name, name)
            self.add_error(field if field in self.fields else None, errors)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = PROFILE_FIELDS
        labels = {
            "date_of_birth": "Date of birth",
            "height_cm": "Height (cm)",
            "medical_history": "Medical history",
        }
        help_texts = {
            "date_of_birth": "Used for age-based advice. Stored encrypted.",
            "height_cm": "Between 40 and 260 cm. Used to work out your BMI.",
            "medical_history": (
                "Conditions, medication, allergies: anything your care team should know. "
                "Stored encrypted."
            ),
        }
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "height_cm": forms.NumberInput(attrs={"step": "0.1", "min": "40", "max": "260"}),
            "medical_history": forms.Textarea(attrs={"rows": 5}),
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
        }

    def clean_date_of_birth(self):
        return _past_birth_date(self.cleaned_data.get("date_of_birth"))

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if commit:
            # Only the profile columns: a concurrent change to anything else is kept.
            user.save(update_fields=PROFILE_FIELDS)
        return user


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Something that tells you later what uses it, e.g. “Bathroom scale app”.",
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        help_text="Type your password to confirm that you want to delete your account.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.", code="wrong_password")
        return password
