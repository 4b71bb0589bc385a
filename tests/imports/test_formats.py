"""The import's readings of hours, dates and cells, over the whole space of values
(hypothesis): whatever is written in an accepted form reads back as itself, and a cell the
export protects from spreadsheets comes back unchanged."""

from __future__ import annotations

from datetime import date

from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

from imports.formats import (
    BadValue,
    Row,
    check_cells,
    escape_cell,
    looks_like_formula,
    minutes_in,
    parse_date,
    parse_moment,
)

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]  # fmt: skip


class Hours(SimpleTestCase):
    @given(st.integers(0, 100_000))
    def test_minutes_written_as_h_mm_or_minutes_read_back_exactly(self, minutes):
        self.assertEqual(minutes_in(f"{minutes // 60}:{minutes % 60:02d}", hours=True), minutes)
        self.assertEqual(minutes_in(str(minutes), hours=False), minutes)

    @given(st.integers(0, 4000))
    def test_decimal_hours_of_whole_minutes_read_exactly(self, quarters):
        text = format(quarters / 4, "f").rstrip("0").rstrip(".") or "0"
        self.assertEqual(minutes_in(text, hours=True), quarters * 15)

    @given(st.integers(1, 10_000))
    def test_a_negative_number_is_refused_unless_it_is_a_balance(self, minutes):
        with self.assertRaises(BadValue):
            minutes_in(f"-{minutes}", hours=False)
        self.assertEqual(minutes_in(f"-{minutes}", hours=False, signed=True), -minutes)

    def test_what_is_not_a_whole_number_of_minutes_is_refused(self):
        for text, hours in (
            ("1.333", True),
            ("1,5", True),
            ("two", False),
            ("90.5", False),
            ("1:75", True),
            ("nan", False),
        ):
            with self.subTest(text), self.assertRaises(BadValue):
                minutes_in(text, hours=hours)


class Dates(SimpleTestCase):
    @given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
    def test_a_date_in_any_accepted_form_reads_as_itself(self, day):
        forms = (
            day.isoformat(),
            f"{day.day:02d}/{day.month:02d}/{day.year}",
            f"{day.day}/{day.month}/{day.year}",
            f"{day.day:02d}-{day.month:02d}-{day.year}",
            f"{day.day}.{day.month}.{day.year}",
            f"{day.day} {MONTHS[day.month - 1]} {day.year}",
            f"{day.day} {MONTHS[day.month - 1][:3]} {day.year}",
        )
        self.assertEqual([parse_date(text) for text in forms], [day] * len(forms))

    def test_month_first_two_digit_years_and_nonsense_are_refused_with_the_form_to_use(self):
        for text, words in (
            ("12/25/2023", "day first"),
            ("25/12/23", "year in full"),
            ("31/02/2024", "2024-03-05"),
            ("yesterday", "2024-03-05"),
        ):
            with self.subTest(text), self.assertRaisesMessage(BadValue, words):
                parse_date(text)

    def test_moments_from_other_systems_keep_their_offset(self):
        self.assertEqual(
            parse_moment("2015-01-26 10:48:04 +0100").isoformat(), "2015-01-26T10:48:04+01:00"
        )
        self.assertEqual(
            parse_moment("2023-04-01T10:00:00.000Z").isoformat(), "2023-04-01T10:00:00+00:00"
        )
        self.assertEqual(parse_moment("05/03/2024 14:30").isoformat(), "2024-03-05T14:30:00+00:00")
        self.assertEqual(parse_moment("2024-07-05").isoformat(), "2024-07-05T12:00:00+01:00")


class Cells(SimpleTestCase):
    @given(st.text(max_size=60))
    def test_any_text_the_export_writes_imports_back_unchanged_and_never_as_a_formula(self, text):
        text = text.strip()
        written = escape_cell(text)
        self.assertFalse(looks_like_formula(written))
        row = Row("members.csv", "members.csv", 2, {"bio": written})
        self.assertTrue(check_cells(row, []))
        self.assertEqual(row.values["bio"], text)

    def test_formulas_are_refused_and_signed_numbers_are_not_formulas(self):
        for text in ("=SUM(A1:A3)", "@pot", "+cmd|' /C calc'!A0", "-2+3", "=1"):
            with self.subTest(text):
                self.assertTrue(looks_like_formula(text))
        for text in ("-1:30", "+2", "-90", "-1.5", "Gardening"):
            with self.subTest(text):
                self.assertFalse(looks_like_formula(text))
