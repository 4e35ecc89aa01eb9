"""Care programs (API). Access: `accounts.access` — readers of the person read their programs;
the person, their family managers and their care-team clinicians create and change them."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, audit
from goals.care_programs import program_logs, programs
from goals.care_programs.api.serializers import (
    AdherenceDaySerializer,
    AdherenceQuerySerializer,
    CareProgramInputSerializer,
    CareProgramSerializer,
    HistoryQuerySerializer,
)
from goals.care_programs.models import CareProgram, ProgramAdherence
from healthtrack.core import days as calendar
from healthtrack.core.api.idempotency import idempotent
from healthtrack.core.api.strict import NoBodyMixin

NOT_YOURS = OpenApiResponse(description="Not found, or not yours (404).")
MEMBER = OpenApiParameter(
    access.MEMBER_PARAM,
    OpenApiTypes.INT,
    description="The person (user id): a family member, or a clinician's care-team patient.",
)
MAX_ADHERENCE_DAYS = 366


def _with_today(programs_, many: bool = True):
    items = list(programs_) if many else [programs_]
    # Programs listed together are one person's: today is theirs.
    today = calendar.today(items[0].user_id if items else None)
    scores = dict(
        ProgramAdherence.objects.filter(program__in=items, day=today).values_list(
            "program_id", "score"
        )
    )
    scores = program_logs.today_scores_with_points(scores, items, today)
    return CareProgramSerializer(
        items if many else items[0], many=many, context={"today_scores": scores}
    ).data


def _readable_program(request, pk) -> CareProgram:
    return get_object_or_404(access.readable(CareProgram.objects.all(), request.user), pk=pk)


class ProgramList(APIView):
    @extend_schema(
        summary="Care programs of a person (you, or ?member=)",
        parameters=[MEMBER],
        responses={200: CareProgramSerializer(many=True), 404: NOT_YOURS},
    )
    def get(self, request):
        owner = access.owner_to_read(request)
        rows = CareProgram.objects.for_user(owner).order_by("-start_date", "-id")
        audit.record_read(request=request, owner_id=owner.pk)
        return Response(_with_today(rows))

    @extend_schema(
        summary="Start a care program (for yourself, or ?member=)",
        description="Defaults: starts today, lasts 90 days. `config` holds daily targets: "
        '`{"nutrition": {"calories": {"min", "max"}, "protein_g": {...}}, "activity": '
        '{"steps": {...}, "exercise_minutes": {...}}, "strength": {"sessions_per_week": n}, '
        '"sleep": {"minutes": {...}}}`.',
        parameters=[MEMBER],
        request=CareProgramInputSerializer,
        responses={201: CareProgramSerializer, 400: OpenApiResponse(description="Invalid")},
    )
    @idempotent
    def post(self, request):
        owner = access.owner_to_write(request, allowed=access.can_write_care_plan)
        data = CareProgramInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("status", None)
        program = programs.program_create(user=owner, created_by=request.user, **values)
        return Response(_with_today(program, many=False), status=status.HTTP_201_CREATED)


class ProgramDetail(NoBodyMixin, APIView):
    def get_object(self) -> CareProgram:
        """The program to change or delete (GET reads through `_readable_program`)."""
        qs = access.care_plan_writable(CareProgram.objects.all(), self.request.user)
        return get_object_or_404(qs, pk=self.kwargs["pk"])

    @extend_schema(
        summary="One care program", responses={200: CareProgramSerializer, 404: NOT_YOURS}
    )
    def get(self, request, pk):
        program = _readable_program(request, pk)
        audit.record_read(request=request, owner_id=program.user_id, obj=program)
        return Response(_with_today(program, many=False))

    @extend_schema(
        summary="Change a care program (title, phase, status, dates, config)",
        request=CareProgramInputSerializer(partial=True),
        responses={200: CareProgramSerializer, 404: NOT_YOURS},
    )
    def patch(self, request, pk):
        program = self.get_object()
        data = CareProgramInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        program = programs.program_update(program=program, **data.validated_data)
        return Response(_with_today(program, many=False))

    @extend_schema(summary="Delete a care program", responses={204: None, 404: NOT_YOURS})
    def delete(self, request, pk):
        programs.program_delete(program=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProgramAdherenceView(APIView):
    @extend_schema(
        summary="Daily adherence scores (0-100, null on days without data)",
        parameters=[AdherenceQuerySerializer],
        responses={200: AdherenceDaySerializer(many=True), 404: NOT_YOURS},
    )
    def get(self, request, pk):
        program = _readable_program(request, pk)
        query = AdherenceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        end = query.validated_data.get("end") or min(
            program.end_date, calendar.today(program.user_id)
        )
        start = query.validated_data.get("start") or max(
            program.start_date, end - timedelta(days=MAX_ADHERENCE_DAYS - 1)
        )
        if (end - start).days + 1 > MAX_ADHERENCE_DAYS:
            return Response(
                {"start": [f"At most {MAX_ADHERENCE_DAYS} days."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        audit.record_read(request=request, owner_id=program.user_id, obj=program)
        days = programs.adherence_between(program, start, end)
        return Response(AdherenceDaySerializer(days, many=True).data)


class ProgramHistoryView(APIView):
    @extend_schema(
        summary="The logs that counted toward the program, newest first",
        description="Measurements (steps, exercise, sleep, strength sessions) and diary "
        "entries within the program's dates. `{data, pagination: {next_cursor, has_more}}`; "
        "pass `cursor=next_cursor` for the next page.",
        parameters=[HistoryQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, 404: NOT_YOURS},
    )
    def get(self, request, pk):
        program = _readable_program(request, pk)
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        audit.record_read(request=request, owner_id=program.user_id, obj=program)
        page = programs.program_history(
            program,
            cursor=query.validated_data.get("cursor"),
            limit=query.validated_data["limit"],
        )
        return Response(page)
