"""Opening hours in Europe/Berlin: weekly schedule, Hessian holidays, closures, daylight-saving changes."""

from datetime import UTC, datetime

import pytest

from pipeline.opening_hours import OpeningHours
from tests.conftest import berlin


@pytest.fixture(scope="module")
def hours(settings):
    return OpeningHours.from_config(settings.opening_hours)


def test_open_on_a_tuesday_morning(hours):
    assert hours.is_open(berlin(2026, 12, 1, 10, 0))


def test_closed_before_opening_after_closing_and_at_the_weekend(hours):
    assert not hours.is_open(berlin(2026, 12, 1, 8, 59))
    assert not hours.is_open(berlin(2026, 12, 1, 16, 0))
    assert not hours.is_open(berlin(2026, 12, 4, 14, 0))  # Friday afternoon
    assert not hours.is_open(berlin(2026, 11, 29, 10, 0))  # Sunday


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ((2026, 12, 25), "Christmas"),
        ((2026, 4, 3), "Good Friday"),
        ((2026, 4, 6), "Easter Monday"),
        ((2026, 6, 4), "Corpus Christi"),  # a holiday in Hesse, not everywhere in Germany
        ((2026, 12, 24), "closure"),  # not a public holiday: a configured closure
        ((2026, 12, 31), "closure"),
    ],
)
def test_holidays_and_closures_close_the_centre_all_day(hours, day, reason):
    assert not hours.is_open(berlin(*day, 10, 0))
    assert reason in hours.closure(datetime(*day).date()).reason


def test_reformation_day_is_no_holiday_in_hesse(hours):
    # 31 October 2025 was a Friday; Hesse has no holiday then (unlike its neighbours).
    assert hours.is_open(berlin(2025, 10, 31, 10, 0))


def test_next_opening_after_christmas_skips_holidays_closures_and_the_weekend(hours):
    nxt = hours.next_opening(berlin(2026, 12, 23, 17, 0))
    assert nxt == berlin(2026, 12, 28, 9, 0)


def test_next_opening_after_easter(hours):
    assert hours.next_opening(berlin(2026, 4, 2, 18, 0)) == berlin(2026, 4, 7, 9, 0)


def test_daylight_saving_changes_do_not_shift_local_hours(hours):
    # Clocks go forward on 29 March 2026 and back on 25 October 2026; 9:00 stays 9:00 local.
    monday_after_spring = hours.next_opening(berlin(2026, 3, 28, 12, 0))
    assert monday_after_spring == berlin(2026, 3, 30, 9, 0)
    assert monday_after_spring.astimezone(UTC).hour == 7
    monday_after_autumn = hours.next_opening(berlin(2026, 10, 24, 12, 0))
    assert monday_after_autumn.astimezone(UTC).hour == 8
    # 07:30 UTC is 09:30 in summer (open) but 08:30 in winter (closed).
    assert hours.is_open(datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 10, 26, 7, 30, tzinfo=UTC))


def test_a_time_without_zone_is_refused(hours):
    with pytest.raises(ValueError, match="aware"):
        hours.is_open(datetime(2026, 12, 1, 10, 0))
