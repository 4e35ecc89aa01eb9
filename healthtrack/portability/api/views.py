"""Thin API views of imports, exports and the report: scope through `accounts.access`,
validate, call one service (or stream one export)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from healthtrack.core import days as calendar
from healthtrack.core.api.errors import exception_handler as accounts_exception_handler
from healthtrack.core.api.idempotency import idempotent
from healthtrack.portability import csv_io, export, fhir, report, services
from healthtrack.portability.api import serializers as s
from healthtrack.portability.models import ImportJob
from healthtrack.portability.uploads import LimitedUploadHandler, max_upload_bytes

# Room for the multipart boundaries and the `kind` field on top of the file itself.
MULTIPART_SLACK = 64 * 1024


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is larger than the upload limit."
    default_code = "upload_too_large"

    def __init__(self):
        super().__init__(
            f"The file is larger than the upload limit of {settings.IMPORT_MAX_UPLOAD_MB} MB."
        )


def portability_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = UploadTooLarge()
    return accounts_exception_handler(exc, context)


def _detail(description: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


ERRORS_READ = {
    401: _detail("Not authenticated (JWT bearer token or session)."),
    404: _detail("Not found, or not yours: another person's import or data is 404."),
    429: _detail("Rate limit exceeded; see the Retry-After header."),
}


class ImportPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class ImportListCreateView(generics.ListAPIView):
    """Your imports, or `?member=`'s (newest first); upload a file to import (for a family
    member with `?member=<id>` when you manage them)."""

    serializer_class = s.ImportJobSerializer
    pagination_class = ImportPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_exception_handler(self):
        return portability_exception_handler

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        owner = access.owner_to_write(self.request)  # imports are writes: readers get 404
        return ImportJob.objects.filter(user=owner)

    def initial(self, request, *args, **kwargs):
        # Before authentication: the session's CSRF check may already read the body.
        if request.method == "POST":
            limit = max_upload_bytes()
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit + MULTIPART_SLACK:
                raise UploadTooLarge
            self.upload_limiter = LimitedUploadHandler(request._request, limit)
            # AttributeError: a middleware read the body already; the size is checked after.
            with contextlib.suppress(AttributeError):
                request._request.upload_handlers = [
                    self.upload_limiter,
                    *request._request.upload_handlers,
                ]
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="Your imports",
        responses={200: s.ImportJobSerializer(many=True), **ERRORS_READ},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a file to import",
        description="multipart/form-data with `file` and optionally `kind` (`apple_health`, "
        "`csv_metrics`, `csv_nutrition`, `json_export`; told from the content when absent). "
        "202 with the job; it runs as a Celery task: poll `GET /api/v1/imports/{id}`.",
        request={"multipart/form-data": s.ImportUploadSerializer},
        responses={
            202: s.ImportJobSerializer,
            400: _detail(
                '`{"file": [...]}` or `{"kind": [...]}`: no file, unknown kind, '
                "or a file whose kind cannot be told or contradicts `kind`."
            ),
            413: _detail("The file is larger than IMPORT_MAX_UPLOAD_MB."),
            **ERRORS_READ,
        },
    )
    @idempotent
    def post(self, request):
        owner = access.owner_to_write(request)  # you, or `?member=<id>` you manage
        data = request.data
        if getattr(self, "upload_limiter", None) and self.upload_limiter.exceeded:
            raise UploadTooLarge
        serializer = s.ImportUploadSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > max_upload_bytes():
            raise UploadTooLarge
        job = services.import_job_create(
            user=owner, upload=upload, kind=serializer.validated_data.get("kind")
        )
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(APIView):
    @extend_schema(
        summary="An import's progress",
        description="`{id, kind, status: pending|running|done|failed, total, processed, "
        "errors, ...}`; errors name the line, the field and the rule (at most 100 are kept, "
        "`error_count` counts them all).",
        responses={200: s.ImportJobSerializer, **ERRORS_READ},
    )
    def get(self, request, pk):
        job = get_object_or_404(access.writable(ImportJob.objects.all(), request.user), pk=pk)
        return Response(s.ImportJobSerializer(job).data)


class ImportTemplateView(APIView):
    @extend_schema(
        summary="CSV template of an import",
        description="The header row of `csv_metrics` (`metric_type, value, unit, recorded_at, "
        "end_at, source`) or `csv_nutrition` (the nutrition API's field names). Times are ISO "
        "8601 with an offset; `unit` one of the type's units (GET /api/v1/metric-types/), "
        "empty for the canonical one; `food` a catalogue id or exact name.",
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            404: _detail("No such template."),
        },
    )
    def get(self, request, kind):
        kind = {"metrics": "csv_metrics", "nutrition": "csv_nutrition"}.get(kind, kind)
        if kind not in csv_io.TEMPLATE_COLUMNS:
            raise exceptions.NotFound
        response = HttpResponse(csv_io.template_csv(kind), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="healthtrack-{kind}.csv"'
        return response


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the export's format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# format: (content type, file name after "healthtrack-export-<yyyymmdd>")
EXPORT_TYPES = {
    "json": ("application/json", ".json"),
    "zip": ("application/zip", "-with-photos.zip"),
    "csv": ("application/zip", ".zip"),
    "fhir": ("application/fhir+json", ".fhir.json"),
}


class ExportView(APIView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="Export all your data",
        description="Every record you own: profile (decrypted), devices, measurements, "
        "nutrition diary (each entry's meal photo named in `photo`) and targets, goals, "
        "insights, share grants (no secrets), care teams, imports. `format=json` (default; one "
        "record per line in each array, importable with kind `json_export`), `zip` (everything: "
        "`healthtrack-export.json`, the JSON export, plus the meal photos as "
        "`photos/<diary entry id>.jpg|png|webp`, stored without metadata), `csv` (a ZIP with "
        "one CSV per table) or `fhir` (a FHIR R4 Bundle of Observations with LOINC codes and "
        "UCUM units). Streamed.",
        parameters=[s.ExportQuerySerializer],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/zip"): OpenApiTypes.BINARY,
            (200, "application/fhir+json"): OpenApiTypes.OBJECT,
            400: _detail("Unknown format."),
            **ERRORS_READ,
        },
    )
    def get(self, request):
        query = s.ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        owner_id = query.validated_data.get("user_id")
        if owner_id is None:
            owner = access.owner_to_write(request)  # you, or `?member=<id>` you manage
        elif not access.can_write(request.user, owner_id):
            raise exceptions.NotFound
        elif owner_id == request.user.pk:
            owner = request.user
        else:
            owner = access.get_readable_owner_or_404(request.user, owner_id)
        fmt = query.validated_data["format"]
        if fmt == "json":
            chunks = export.json_chunks(owner)
        elif fmt == "zip":
            chunks = export.archive_chunks(owner)
        elif fmt == "csv":
            chunks = csv_io.csv_zip_chunks(export.csv_tables(owner))
        else:
            chunks = fhir.bundle_chunks(owner)
        content_type, name_end = EXPORT_TYPES[fmt]
        response = StreamingHttpResponse(chunks, content_type=content_type)
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = (
            f'attachment; filename="healthtrack-export-{stamp}{name_end}"'
        )
        response["Cache-Control"] = "no-store"
        return response


class ReportView(APIView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="Printable health report",
        description="An HTML page for a period (default the last 30 UTC days, at most 366): "
        "per-type summary from the daily rollups, charts (inline SVG), nutrition averages, "
        "alerts and goals; print CSS. Yours, or a care-team patient's (`user_id`; the read "
        "is recorded in their access log).",
        parameters=[s.ReportQuerySerializer],
        responses={
            (200, "text/html"): OpenApiTypes.STR,
            400: _detail("Bad period."),
            **ERRORS_READ,
        },
    )
    def get(self, request):
        query = s.ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        if "user_id" in params:
            owner = access.get_readable_owner_or_404(request.user, params["user_id"])
        else:
            owner = access.owner_to_read(request)  # you, or `?member=<id>` you may read
        if not {"start", "end"} <= set(request.query_params):  # defaults: the owner's today
            context = {"today": calendar.today(owner)}
            query = s.ReportQuerySerializer(data=request.query_params, context=context)
            query.is_valid(raise_exception=True)
            params = query.validated_data
        audit.record_read(request=request, owner_id=owner.pk)
        html = report.render_report(owner=owner, start=params["start"], end=params["end"])
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response
