from __future__ import annotations

from django import forms
from django.conf import settings

from healthtrack.portability.models import ImportJob


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="Apple Health export.zip or export.xml, a CSV (see the templates) or a "
        "HealthTrack JSON export.",
    )
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "Tell from the file"), *ImportJob.Kind.choices],
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                f"The file is larger than the upload limit of {settings.IMPORT_MAX_UPLOAD_MB} MB."
            )
        return upload


class ReportForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
