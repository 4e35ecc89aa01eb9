"""Sharing, as people see it: every page and API view of a share grant that shows measurements.

- `settings_page`: the settings page "Sharing with a clinician" (care team and share grants);
- `link_page`: the read-only page of a share link (`/share/<token>`);
- `api`: the read-only API view of a share link (`/api/v1/share/<token>`);
- `urls`, `api_urls`: their URLconfs, included by healthtrack/urls.py.

The grants themselves (the model, who may create, read and revoke them, the scope a grant
gives) are accounts' (accounts.models.ShareGrant, accounts.sharing), like every access rule;
the grant API without measurements is accounts' too (accounts.api.care_views). These views
live here because they show metric types and daily values, and accounts imports no app.
"""
