"""Glue's schedules: `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, read in a time
zone, with croniter doing the arithmetic.

Glue's syntax differs from the cron croniter reads: six fields (the last is the year), `?` in
one of the two day fields (exactly one of them), days of the week numbered 1 (SUN) to 7 (SAT),
`5L` for the last Thursday of the month, `3#2` for its second Tuesday, and `LW` for its last
weekday. Translated: `?` is `*`, day numbers are shifted down by one, `nL` is croniter's `L<n-1>`;
the year and `LW` (which croniter lacks) filter the times croniter gives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from sluice.common.errors import InvalidInput

MIN_YEAR = 1970
MAX_YEAR = 2199
# How many of croniter's times a filter (year, LW) may skip before the schedule is deemed to
# have no more times: a year filter skips at most a year of times at a time (we jump years).
_MAX_SKIPS = 2000
_CRON = re.compile(r"^cron\((.*)\)$", re.DOTALL)
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELD = re.compile(r"^[0-9A-Za-z*?/,#\-]+$")


def _bad(expression: str, why: str) -> InvalidInput:
    return InvalidInput(f"schedule {expression!r} is not a valid Glue cron expression: {why}")


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone name (UTC when empty); InvalidInput for an unknown one."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"schedule_time_zone {name!r} is not a known IANA time zone") from None


def _weekday(token: str, expression: str) -> str:
    """One day-of-week value, Glue-numbered (1 = SUN) or named, as croniter's (0 = SUN)."""
    upper = token.upper()
    if upper in _DAY_NAMES:
        return upper
    if not token.isdigit() or not 1 <= int(token) <= 7:
        raise _bad(expression, f"day of week {token!r} is not 1-7 or SUN-SAT")
    return str(int(token) - 1)


def _day_of_week(field: str, expression: str) -> str:
    if field == "?":
        return "*"
    if field.upper() == "L":
        return "6"  # the last day of the week: Saturday
    parts = []
    for item in field.split(","):
        upper = item.upper()
        if upper.endswith("L") and len(item) > 1:
            parts.append("L" + _weekday(item[:-1], expression))
        elif "#" in item:
            day, _, nth = item.partition("#")
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise _bad(expression, f"{item!r}: the n of day#n is 1 to 5")
            parts.append(f"{_weekday(day, expression)}#{nth}")
        else:
            range_part, slash, step = item.partition("/")
            if range_part == "*":
                days = "*"
            else:
                low, dash, high = range_part.partition("-")
                days = _weekday(low, expression) + (dash and "-" + _weekday(high, expression))
            parts.append(days + (slash and "/" + step))
    return ",".join(parts)


def _years(field: str, expression: str) -> frozenset[int] | None:
    """The years a schedule runs in; None for every year."""
    if field in ("*", "?"):
        return None
    years: set[int] = set()
    for item in field.split(","):
        range_part, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if range_part == "*":
                low, high = MIN_YEAR, MAX_YEAR
            elif "-" in range_part:
                low_text, high_text = range_part.split("-", 1)
                low, high = int(low_text), int(high_text)
            else:
                low = int(range_part)
                high = MAX_YEAR if step_text else low
        except ValueError:
            raise _bad(expression, f"year {item!r} is not a year, range or list") from None
        if step < 1 or not MIN_YEAR <= low <= high <= MAX_YEAR:
            raise _bad(expression, f"years are {MIN_YEAR} to {MAX_YEAR}, in increasing ranges")
        years.update(range(low, high + 1, step))
    return frozenset(years)


def _last_weekday_of_month(moment: datetime) -> bool:
    day = moment.date()
    last = day
    while (last + timedelta(days=1)).month == day.month:
        last += timedelta(days=1)
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    return day == last


@dataclass(frozen=True)
class GlueCron:
    """A parsed Glue schedule. next_after and latest_at_or_before give aware datetimes (UTC)."""

    expression: str
    cron: str
    zone: ZoneInfo
    years: frozenset[int] | None
    last_weekday: bool

    @classmethod
    def parse(cls, expression: str, zone_name: str = "") -> GlueCron:
        """The schedule of expression in zone_name; InvalidInput if it is not valid or has no
        time left."""
        parsed = cls.compile(expression, zone_name)
        if parsed.next_after(datetime.now(UTC)) is None:
            raise _bad(expression, "it never fires again")
        return parsed

    @classmethod
    def compile(cls, expression: str, zone_name: str = "") -> GlueCron:
        """parse without the check that it fires again; cached, for the scheduler's passes."""
        return _compiled(expression, zone_name)

    @classmethod
    def _compile(cls, expression: str, zone_name: str) -> GlueCron:
        match = _CRON.match(expression.strip())
        if match is None:
            raise _bad(
                expression,
                "write it as cron(Minutes Hours Day-of-month Month "
                "Day-of-week Year), e.g. cron(15 12 * * ? *)",
            )
        fields = match.group(1).split()
        if len(fields) != 6:
            raise _bad(expression, f"it has {len(fields)} fields, not 6")
        if not all(_FIELD.match(field) for field in fields):
            raise _bad(expression, "a field holds characters cron does not use")
        minutes, hours, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise _bad(expression, "exactly one of Day-of-month and Day-of-week must be '?'")
        if "?" in (minutes, hours, month):
            raise _bad(expression, "'?' is only for Day-of-month or Day-of-week")
        last_weekday = day_of_month.upper() == "LW"
        dom = "*" if day_of_month == "?" or last_weekday else day_of_month
        cron = " ".join((minutes, hours, dom, month, _day_of_week(day_of_week, expression)))
        zone = time_zone(zone_name)
        if not croniter.is_valid(cron):
            raise _bad(expression, "a field is out of range or malformed")
        return cls(expression, cron, zone, _years(year, expression), last_weekday)

    def _accepts(self) -> Callable[[datetime], bool]:
        def accepts(moment: datetime) -> bool:
            if self.years is not None and moment.year not in self.years:
                return False
            return not self.last_weekday or _last_weekday_of_month(moment)

        return accepts

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time strictly after moment; None if the schedule has no more."""
        accepts = self._accepts()
        local = moment.astimezone(self.zone)
        if self.years is not None:
            future = [year for year in self.years if year >= local.year]
            if not future:
                return None
            if min(future) > local.year:
                local = datetime(min(future), 1, 1, tzinfo=self.zone) - timedelta(seconds=1)
        times = croniter(self.cron, local)
        for _ in range(_MAX_SKIPS):
            candidate: datetime = times.get_next(datetime)
            if self.years is not None and candidate.year > max(self.years):
                return None
            if accepts(candidate):
                return candidate.astimezone(UTC)
            if self.years is not None and candidate.year not in self.years:
                later = [year for year in self.years if year > candidate.year]
                if not later:
                    return None
                start = datetime(min(later), 1, 1, tzinfo=self.zone) - timedelta(seconds=1)
                times = croniter(self.cron, start)
        return None

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The last time at or before moment; None if there is none in the skip budget."""
        accepts = self._accepts()
        times = croniter(self.cron, moment.astimezone(self.zone) + timedelta(seconds=1))
        for _ in range(_MAX_SKIPS):
            candidate: datetime = times.get_prev(datetime)
            if self.years is not None and candidate.year < min(self.years):
                return None
            if accepts(candidate):
                return candidate.astimezone(UTC)
        return None


@functools.lru_cache(maxsize=4096)
def _compiled(expression: str, zone_name: str) -> GlueCron:
    return GlueCron._compile(expression, zone_name)
