"""Glue's cron schedules, against the examples of Glue's documentation ("Time-based schedules
for jobs and crawlers") and AWS's cron reference (?, L, W, #, years), read in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.triggers.cron import GlueCron

pytestmark = pytest.mark.unit

# Thursday 1 January 2026, 00:00 UTC.
START = datetime(2026, 1, 1, tzinfo=UTC)


def next_times(expression: str, count: int = 3, zone: str = "", start: datetime = START) -> list:
    cron = GlueCron.parse(expression, zone)
    times, moment = [], start
    for _ in range(count):
        moment = cron.next_after(moment)
        times.append(moment.strftime("%Y-%m-%d %a %H:%M") if moment else None)
    return times


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Glue's documented examples.
        ("cron(15 12 * * ? *)", ["2026-01-01 Thu 12:15", "2026-01-02 Fri 12:15",
                                 "2026-01-03 Sat 12:15"]),
        ("cron(0 18 ? * MON-FRI *)", ["2026-01-01 Thu 18:00", "2026-01-02 Fri 18:00",
                                      "2026-01-05 Mon 18:00"]),
        ("cron(0 8 1 * ? *)", ["2026-01-01 Thu 08:00", "2026-02-01 Sun 08:00",
                               "2026-03-01 Sun 08:00"]),
        ("cron(0/15 * * * ? *)", ["2026-01-01 Thu 00:15", "2026-01-01 Thu 00:30",
                                  "2026-01-01 Thu 00:45"]),
        ("cron(0/10 * ? * MON-FRI *)", ["2026-01-01 Thu 00:10", "2026-01-01 Thu 00:20",
                                        "2026-01-01 Thu 00:30"]),
        ("cron(0/5 8-17 ? * MON-FRI *)", ["2026-01-01 Thu 08:00", "2026-01-01 Thu 08:05",
                                          "2026-01-01 Thu 08:10"]),
        # Days of the week are 1 (SUN) to 7 (SAT), as in AWS cron.
        ("cron(0 8 ? * 1 *)", ["2026-01-04 Sun 08:00", "2026-01-11 Sun 08:00",
                               "2026-01-18 Sun 08:00"]),
        ("cron(0 8 ? * 2-6 *)", ["2026-01-01 Thu 08:00", "2026-01-02 Fri 08:00",
                                 "2026-01-05 Mon 08:00"]),
        # L: the last day of the month; 5L: its last Thursday; 3#2: its second Tuesday.
        ("cron(0 8 L * ? *)", ["2026-01-31 Sat 08:00", "2026-02-28 Sat 08:00",
                               "2026-03-31 Tue 08:00"]),
        ("cron(0 8 ? * 5L *)", ["2026-01-29 Thu 08:00", "2026-02-26 Thu 08:00",
                                "2026-03-26 Thu 08:00"]),
        ("cron(0 8 ? * 3#2 *)", ["2026-01-13 Tue 08:00", "2026-02-10 Tue 08:00",
                                 "2026-03-10 Tue 08:00"]),
        # W: the weekday nearest the 15th (the 15th of February 2026 is a Sunday); LW: the
        # month's last weekday.
        ("cron(0 8 15W * ? *)", ["2026-01-15 Thu 08:00", "2026-02-16 Mon 08:00",
                                 "2026-03-16 Mon 08:00"]),
        ("cron(0 8 LW * ? *)", ["2026-01-30 Fri 08:00", "2026-02-27 Fri 08:00",
                                "2026-03-31 Tue 08:00"]),
        # Years: a range, and none after it.
        ("cron(0 8 1 1 ? 2027-2028)", ["2027-01-01 Fri 08:00", "2028-01-01 Sat 08:00", None]),
    ],
)  # fmt: skip
def test_glue_examples(expression: str, expected: list) -> None:
    assert next_times(expression) == expected


def test_a_time_zone_follows_daylight_saving() -> None:
    # 09:00 in Paris: 08:00 UTC in winter, 07:00 UTC from 29 March 2026.
    start = datetime(2026, 3, 27, 12, tzinfo=UTC)
    assert next_times("cron(0 9 * * ? *)", 3, "Europe/Paris", start) == [
        "2026-03-28 Sat 08:00",
        "2026-03-29 Sun 07:00",
        "2026-03-30 Mon 07:00",
    ]


def test_the_latest_time_at_or_before() -> None:
    cron = GlueCron.parse("cron(0/10 * * * ? *)")
    assert cron.latest_at_or_before(datetime(2026, 1, 1, 12, 35, tzinfo=UTC)) == datetime(
        2026, 1, 1, 12, 30, tzinfo=UTC
    )
    assert cron.latest_at_or_before(datetime(2026, 1, 1, 12, 30, tzinfo=UTC)) == datetime(
        2026, 1, 1, 12, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("expression", "zone", "named"),
    [
        ("15 12 * * ? *", "", "cron("),
        ("cron(15 12 * * *)", "", "5 fields"),
        ("cron(15 12 * * * *)", "", "exactly one of Day-of-month and Day-of-week"),
        ("cron(15 12 ? * ? *)", "", "exactly one of Day-of-month and Day-of-week"),
        ("cron(61 12 * * ? *)", "", "out of range"),
        ("cron(0 8 ? * 8 *)", "", "day of week '8'"),
        ("cron(0 8 ? * 2#6 *)", "", "1 to 5"),
        ("cron(0 8 1 1 ? 2020)", "", "never fires again"),
        ("cron(0 8 1 1 ? 3000)", "", "years are"),
        ("cron(0 8 * * ? *)", "Mars/Olympus", "time zone"),
        ("cron(0 8 * * ? *; rm -rf)", "", "cron"),
    ],
)
def test_bad_schedules_say_what_is_wrong(expression: str, zone: str, named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        GlueCron.parse(expression, zone)
    assert named in caught.value.message
