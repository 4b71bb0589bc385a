"""The calendar arithmetic of timebank/dates.py: a month added keeps the day, or the last day
of a shorter month; the first of a month stays the first."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

from timebank.dates import add_months, first_of, first_of_next_month, last_of, month_starts

# Days far enough from year 1 and 9999 that a few years either way stay valid dates.
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
months = st.integers(min_value=-600, max_value=600)


class AddingMonths(SimpleTestCase):
    def test_a_day_past_the_end_of_a_shorter_month_becomes_its_last_day(self) -> None:
        self.assertEqual(add_months(date(2026, 1, 31), 1), date(2026, 2, 28))
        self.assertEqual(add_months(date(2028, 1, 31), 1), date(2028, 2, 29))
        self.assertEqual(add_months(date(2026, 3, 31), -1), date(2026, 2, 28))
        self.assertEqual(add_months(date(2026, 5, 31), 1), date(2026, 6, 30))

    def test_it_crosses_years_both_ways(self) -> None:
        self.assertEqual(add_months(date(2026, 11, 15), 3), date(2027, 2, 15))
        self.assertEqual(add_months(date(2026, 2, 15), -3), date(2025, 11, 15))
        self.assertEqual(add_months(date(2026, 1, 1), -12), date(2025, 1, 1))
        self.assertEqual(add_months(date(2026, 12, 31), 0), date(2026, 12, 31))

    def test_a_date_outside_the_calendar_is_a_clear_error(self) -> None:
        with self.assertRaises(ValueError):
            add_months(date(1, 1, 1), -1)

    @given(days, months)
    def test_it_lands_in_the_month_so_many_months_on(self, day: date, n: int) -> None:
        moved = add_months(day, n)
        self.assertEqual(
            (moved.year * 12 + moved.month) - (day.year * 12 + day.month),
            n,
        )
        last = calendar.monthrange(moved.year, moved.month)[1]
        self.assertEqual(moved.day, min(day.day, last))

    @given(days, months)
    def test_the_first_of_a_month_stays_the_first(self, day: date, n: int) -> None:
        self.assertEqual(add_months(first_of(day), n).day, 1)

    @given(days, months, months)
    def test_from_a_day_that_every_month_has_the_steps_add_up(
        self, day: date, n: int, m: int
    ) -> None:
        day = day.replace(day=min(day.day, 28))
        self.assertEqual(add_months(add_months(day, n), m), add_months(day, n + m))

    @given(days, months)
    def test_going_there_and_back_never_lands_later(self, day: date, n: int) -> None:
        self.assertLessEqual(add_months(add_months(day, n), -n), day)


class MonthBounds(SimpleTestCase):
    @given(days)
    def test_a_months_first_and_last_day_bound_every_day_in_it(self, day: date) -> None:
        self.assertEqual(first_of(day).day, 1)
        self.assertLessEqual(first_of(day), day)
        self.assertLessEqual(day, last_of(day))
        self.assertEqual((last_of(day) + timedelta(days=1)).day, 1)
        self.assertEqual(first_of_next_month(day), last_of(day) + timedelta(days=1))

    def test_the_month_after_december_is_next_years_january(self) -> None:
        self.assertEqual(first_of_next_month(date(2026, 12, 31)), date(2027, 1, 1))
        self.assertEqual(last_of(date(2028, 2, 3)), date(2028, 2, 29))


class MonthLists(SimpleTestCase):
    def test_every_month_a_period_touches_is_listed_by_its_first(self) -> None:
        self.assertEqual(
            month_starts(date(2026, 11, 20), date(2027, 2, 1)),
            [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)],
        )
        self.assertEqual(month_starts(date(2026, 4, 1), date(2026, 4, 30)), [date(2026, 4, 1)])
        self.assertEqual(month_starts(date(2026, 4, 1), date(2026, 3, 31)), [])

    @given(days, st.integers(min_value=0, max_value=400))
    def test_the_list_is_consecutive_months_from_start_to_end(
        self, start: date, length: int
    ) -> None:
        end = start + timedelta(days=length)
        listed = month_starts(start, end)
        self.assertEqual(listed[0], first_of(start))
        self.assertEqual(listed[-1], first_of(end))
        for before, after in zip(listed, listed[1:], strict=False):
            self.assertEqual(after, first_of_next_month(before))
