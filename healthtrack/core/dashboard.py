"""The dashboard's panel types: what an app hands the patient dashboard to show.

The dashboard page is assembled above the apps (healthtrack/dashboard.py), which calls each
app's `<app>/dashboard.py`:

    def contribute(panels: Panels, *, user, days: int) -> None:
        panels.cards["steps"] = Card(label="Steps", value="8,432", detail="of 10,000 goal", ...)
        panels.charts.append(bar_chart(points, title="Steps", unit="steps"))

Nothing here invents a value: a slot nobody fills renders as an empty state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healthtrack.core.charts import Chart

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 7

# The "today" cards, in display order: (key, label). Apps fill them by key.
CARD_SLOTS = (
    ("steps", "Steps today"),
    ("sleep", "Last night's sleep"),
    ("resting_heart_rate", "Resting heart rate"),
    ("weight", "Latest weight"),
    ("blood_pressure", "Latest blood pressure"),
    ("calories", "Calories today"),
    ("water", "Water today"),
)


@dataclass
class Card:
    """One "today" card. `status` is "ok", "warning" or "alert" and always comes with
    `status_text` (the words say it; the colour only repeats it)."""

    label: str
    value: str
    unit: str = ""
    detail: str = ""
    status: str = ""
    status_text: str = ""
    progress_percent: int | None = None  # 0-100, drawn as a <progress> bar when set
    href: str = ""
    # The numbers behind `value`, for another app to judge (e.g. {"systolic": 128.0}).
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class Item:
    """A goal, a recommendation or an alert, as the dashboard lists it.

    goal: `title`, `progress_percent`, `text` ("6,200 of 10,000 steps"), `status_text`
    ("On track" / "Behind"); recommendation: `title`, `text` (the reasoning), `status`
    (severity), `action_url` (acknowledge, POST); alert: `title`, `text`, `status`, `href`.
    """

    title: str
    text: str = ""
    status: str = ""
    status_text: str = ""
    progress_percent: int | None = None
    href: str = ""
    action_url: str = ""
    action_label: str = ""


@dataclass
class QuickInput:
    """The one value a quick log asks for (minutes of a workout, what you ate)."""

    name: str
    label: str
    value: str = ""
    unit: str = ""
    min: str = "0"
    max: str = ""
    kind: str = "number"  # or "text"


@dataclass
class QuickAction:
    """A one-step log on the dashboard: a small POST form to `action_url` with `hidden`
    values and at most one number input. `group` puts actions side by side ("Water")."""

    group: str
    button_label: str
    action_url: str
    hidden: dict[str, str] = field(default_factory=dict)
    input: QuickInput | None = None
    help_text: str = ""


@dataclass
class ProgramPanel:
    """A care program's card: today's score as a ring (`ring`, a Chart), the per-target lines
    behind it (`breakdown`: label, figure, score text), and one cell per day (`strip`)."""

    title: str
    detail: str = ""
    ring: Chart | None = None
    breakdown: list[tuple[str, str, str]] = field(default_factory=list)
    strip: Chart | None = None
    href: str = ""
    # The program's latest daily logs: (when, what, status label, badge class).
    logs: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class Panels:
    cards: dict[str, Card] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    goals: list[Item] = field(default_factory=list)
    recommendations: list[Item] = field(default_factory=list)
    alerts: list[Item] = field(default_factory=list)
    quick_actions: list[QuickAction] = field(default_factory=list)
    programs: list[ProgramPanel] = field(default_factory=list)

    def quick_action_groups(self) -> list[tuple[str, list[QuickAction]]]:
        groups: dict[str, list[QuickAction]] = {}
        for action in self.quick_actions:
            groups.setdefault(action.group, []).append(action)
        return list(groups.items())

    def card_slots(self) -> list[tuple[str, str, Card | None]]:
        """Every slot in order with its card, or None when no app filled it."""
        return [(key, label, self.cards.get(key)) for key, label in CARD_SLOTS]

    @property
    def has_cards(self) -> bool:
        return bool(self.cards)

    @property
    def has_charts(self) -> bool:
        """Any chart with something to draw (a new user's charts are all empty)."""
        return any(not chart.is_empty for chart in self.charts)


def parse_period(value: str | None) -> int:
    try:
        days = int(value or DEFAULT_PERIOD)
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD
