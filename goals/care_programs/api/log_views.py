"""Care-program daily logs (API). Rules and writes: `goals.care_programs.program_logs`."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from goals.care_programs import program_logs
from goals.care_programs.api.log_serializers import (
    ProgramLogCreatedSerializer,
    ProgramLogInputSerializer,
    ProgramLogSerializer,
    ReviewInputSerializer,
)
from goals.care_programs.api.log_throttles import ProgramLogUserThrottle
from goals.care_programs.models import CareProgram

NOT_YOURS = OpenApiResponse(description="Not found, or not yours (404).")


class ProgramLogCreate(APIView):
    def get_throttles(self):
        return [*super().get_throttles(), ProgramLogUserThrottle()]

    @extend_schema(
        summary="Log a care-program activity (meal, workout, medication, symptom, vitals)",
        description="`payload` is checked against the log type's schema (see the README). "
        "`status` is VERIFIED for data from a device (`device_id`) or a care-team clinician, "
        "PENDING for self-report until a family manager or a care-team clinician reviews it. "
        "`adherence_impact` is the signed points the log adds to its day's adherence. "
        "Limited per user (PROGRAM_LOG_RATE, 429 with Retry-After).",
        request=ProgramLogInputSerializer,
        responses={
            201: ProgramLogCreatedSerializer,
            400: OpenApiResponse(description="Invalid"),
            404: NOT_YOURS,
        },
    )
    def post(self, request):
        data = ProgramLogInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        program = get_object_or_404(
            access.readable(CareProgram.objects.all(), request.user), pk=values.pop("program_id")
        )
        if not program_logs.can_log(request.user, program.user_id):
            raise Http404  # read-only family: like every other write they may not make
        log = program_logs.program_log_create(program=program, author=request.user, **values)
        body = {"id": log.pk, "status": log.status, "adherence_impact": log.adherence_impact}
        return Response(ProgramLogCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class _Review(APIView):
    action = ""

    @extend_schema(
        request=ReviewInputSerializer,
        responses={200: ProgramLogSerializer, 400: OpenApiResponse(description="Invalid")},
    )
    def post(self, request, pk):
        log = get_object_or_404(program_logs.readable_logs(request.user), pk=pk)
        owner_id = log.program.user_id
        if not program_logs.can_review(request.user, owner_id):
            raise Http404  # only a family manager or a care-team clinician reviews
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        write = getattr(program_logs, f"program_log_{self.action}")
        log = write(log=log, reviewer=request.user, note=data.validated_data["note"])
        return Response(ProgramLogSerializer(log).data)


class ProgramLogVerify(_Review):
    action = "verify"


class ProgramLogReject(_Review):
    action = "reject"
