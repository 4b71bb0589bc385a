"""Demographics given by choice: members answer on their profile (a broker for an offline
member who says so); only the member's own profile and export show the answers; erasure wipes
them; the commissioner report counts active members by each answer, small cells suppressed."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from django.db import IntegrityError, transaction
from django.test import TestCase
from django.urls import reverse

from members.models import Person, Role
from privacy import services as privacy
from reports.commissioning import SUPPRESSED, Report, commissioner_report
from tests.base import CastTestCase
from tests.factories import enrol_in_mfa, make_member, make_user
from tests.reports.commissioning_data import END, START, KnownQuarter, frozen
from tests.support import user_of

ANSWERS = {"age_band": "85_plus", "gender": "another_way", "disability": "yes", "carer": "no"}
PROFILE = {
    "display_name": "Alice Archer",
    "area": "GL50",
    "bio": "",
    "phone": "",
    "contact_preference": "email",
}


class AnsweringOnTheProfile(CastTestCase):
    def test_a_member_gives_their_answers_on_their_profile_and_is_told_why(self):
        self.client.force_login(user_of(self.alice))
        page = self.client.get(reverse("profile"))
        self.assertContains(page, "Only anonymous counts are reported")
        self.assertContains(page, "Prefer not to say")
        self.assertContains(page, "85 or over")
        response = self.client.post(reverse("profile"), {**PROFILE, **ANSWERS})
        self.assertEqual(response.status_code, 302)
        self.alice.refresh_from_db()
        self.assertEqual(
            {k: getattr(self.alice, k) for k in ANSWERS},
            ANSWERS,
        )

    def test_prefer_not_to_say_and_unanswered_are_kept_apart(self):
        self.client.force_login(user_of(self.alice))
        self.client.post(reverse("profile"), {**PROFILE, "gender": "prefer_not_to_say"})
        self.alice.refresh_from_db()
        self.assertEqual(self.alice.gender, "prefer_not_to_say")
        self.assertEqual(self.alice.age_band, "")

    def test_an_answer_outside_the_choices_is_a_form_error(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(reverse("profile"), {**PROFILE, "gender": "robot"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Select a valid choice")
        self.alice.refresh_from_db()
        self.assertEqual(self.alice.gender, "")

    def test_the_database_refuses_an_answer_outside_the_choices(self):
        for field in ANSWERS:
            with self.subTest(field=field), self.assertRaises(IntegrityError):
                with transaction.atomic():
                    Person.objects.filter(pk=self.alice.pk).update(**{field: "robot"})

    def test_a_broker_records_the_answers_an_offline_member_chose_to_give(self):
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("add-offline-member", args=["riverside"]))
        self.assertContains(page, "never guess")
        response = self.client.post(
            reverse("add-offline-member", args=["riverside"]),
            {**PROFILE, "display_name": "Edna Green", "contact_preference": "broker", **ANSWERS},
        )
        self.assertEqual(response.status_code, 302)
        edna = Person.objects.get(display_name="Edna Green")
        self.assertEqual({k: getattr(edna, k) for k in ANSWERS}, ANSWERS)


class OnlyTheMemberSeesTheirAnswers(CastTestCase):
    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        Person.objects.filter(pk=cls.alice.pk).update(**ANSWERS)
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)

    def test_the_export_of_my_data_includes_them(self):
        self.client.force_login(user_of(self.alice))
        data = json.loads(self.client.get(reverse("profile-export")).content)
        person = data["tables"]["person"][0]
        self.assertEqual({k: person[k] for k in ANSWERS}, ANSWERS)
        # The spreadsheet version has them too, under stable headers.
        response = self.client.get(reverse("profile-export"), {"format": "csv"})
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            name = next(n for n in archive.namelist() if n.startswith("person"))
            rows = list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        self.assertEqual({k: rows[0][k] for k in ANSWERS}, ANSWERS)

    def test_no_broker_page_and_no_api_shows_them(self):
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertEqual(page.status_code, 200)
        for label in ("85 or over", "In another way", "another_way", "85_plus"):
            self.assertNotContains(page, label)
        schema = self.client.get(reverse("api-schema")).content.decode()
        for field in ANSWERS:
            with self.subTest(field=field):
                self.assertNotIn(field, schema)

    def test_the_django_admin_neither_shows_nor_edits_them(self):
        staff = make_user("staff@example.org")
        staff.is_staff = staff.is_superuser = True
        staff.save()
        enrol_in_mfa(staff)
        self.client.force_login(staff)
        page = self.client.get(reverse("admin:members_person_change", args=[self.alice.pk]))
        self.assertContains(page, "Alice Archer")
        for field in ANSWERS:
            with self.subTest(field=field):
                self.assertNotContains(page, f'name="{field}"')

    def test_a_commissioner_reaches_no_member_page_and_exports_only_their_own_data(self):
        self.client.force_login(user_of(self.cora))
        page = self.client.get(reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertIn(page.status_code, (403, 404))
        export = self.client.get(reverse("profile-export")).json()["tables"]["person"]
        self.assertEqual([row["display_name"] for row in export], ["Cora Council"])
        self.assertEqual(export[0]["age_band"], "")

    def test_erasure_wipes_them(self):
        privacy.erase_person(person=self.alice, admin=user_of(self.ada), reason="person_asked")
        self.alice.refresh_from_db()
        self.assertEqual({k: getattr(self.alice, k) for k in ANSWERS}, dict.fromkeys(ANSWERS, ""))


class DemographicTables(KnownQuarter, TestCase):
    """The known quarter's ten active individuals m0..m9 (see commissioning_data), with answers:
    ages m0..m5 25-34, m6 85+, m7 prefer not to say, m8 and m9 not given; genders m0..m5
    woman, m6..m9 not given; disability m0..m4 yes, m5..m9 no; carer m0 yes, m1..m9 no; areas m0..m5
    in GL50 (written in several ways), m6 GL51, m7 free text, m8 and m9 none. alice, who was
    not active, has answers too: she is never counted."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()
        ids = [p.pk for p in cls.people]
        Person.objects.filter(pk__in=ids[:6]).update(age_band="25_34", gender="woman")
        Person.objects.filter(pk=ids[6]).update(age_band="85_plus", area="GL51")
        Person.objects.filter(pk=ids[7]).update(
            age_band="prefer_not_to_say", area="Riverside and the Old Town"
        )
        Person.objects.filter(pk__in=ids[:5]).update(disability="yes")
        Person.objects.filter(pk__in=ids[5:]).update(disability="no", carer="no")
        Person.objects.filter(pk__in=ids[1:5]).update(carer="no")
        Person.objects.filter(pk=ids[0]).update(carer="yes")
        for pk, area in zip(
            ids[:6], ["GL50", "gl50 2ab", " GL50 ", "Gl50 1xx", "gl50", "GL50"], strict=True
        ):
            Person.objects.filter(pk=pk).update(area=area)
        Person.objects.filter(pk=cls.alice.pk).update(**ANSWERS)

    def report(self, threshold: int | None = None) -> Report:
        with frozen():
            return commissioner_report(
                banks=[self.riverside], start=START, end=END, threshold=threshold
            )

    def test_every_answer_is_counted_with_prefer_not_to_say_and_not_given_apart(self):
        report = self.report(threshold=1)
        self.assertEqual(
            report.table("demographics_age_band").rows,
            [
                ["under_18", 0],
                ["18_24", 0],
                ["25_34", 6],
                ["35_44", 0],
                ["45_54", 0],
                ["55_64", 0],
                ["65_74", 0],
                ["75_84", 0],
                ["85_plus", 1],
                ["prefer_not_to_say", 1],
                ["not_given", 2],
                ["total", 10],
            ],
        )
        self.assertEqual(
            report.table("demographics_disability").rows,
            [["yes", 5], ["no", 5], ["prefer_not_to_say", 0], ["not_given", 0], ["total", 10]],
        )
        self.assertEqual(
            report.table("demographics_carer").rows,
            [["yes", 1], ["no", 9], ["prefer_not_to_say", 0], ["not_given", 0], ["total", 10]],
        )
        self.assertEqual(
            report.table("demographics_area").rows,
            [
                ["GL50", 6],
                ["GL51", 1],
                ["other_areas", 0],
                ["not_a_postcode_district", 1],
                ["not_given", 2],
                ["total", 10],
            ],
        )
        # Every total is the published number of active individuals.
        self.assertEqual(report.table("summary").value("active_individuals"), 10)

    def test_small_cells_are_suppressed_with_a_second_cell_where_the_total_would_reveal_them(
        self,
    ):
        # At a threshold of 2 the ten individuals and two organisations are both shown.
        report = self.report(threshold=2)
        self.assertEqual(report.table("summary").value("active_individuals"), 10)
        self.assertEqual(
            report.table("demographics_age_band").column("active_members"),
            [0, 0, 6, 0, 0, 0, 0, 0, SUPPRESSED, SUPPRESSED, 2, 10],
        )
        # One small cell (one carer): the 9 is withheld too, or 10 - 9 would tell.
        self.assertEqual(
            report.table("demographics_carer").rows,
            [
                ["yes", SUPPRESSED],
                ["no", SUPPRESSED],
                ["prefer_not_to_say", 0],
                ["not_given", 0],
                ["total", 10],
            ],
        )

    def test_at_the_usual_threshold_small_cells_and_the_totals_are_suppressed(self):
        report = self.report()
        # Two organisations are a small number, so the summary withholds the individuals
        # (10) as well: the demographic totals, which are that number, are withheld too.
        self.assertEqual(report.table("summary").value("active_individuals"), SUPPRESSED)
        self.assertEqual(
            report.table("demographics_age_band").column("active_members"),
            [0, 0, 6, 0, 0, 0, 0, 0, SUPPRESSED, SUPPRESSED, SUPPRESSED, SUPPRESSED],
        )
        self.assertEqual(
            report.table("demographics_gender").rows,
            [
                # One small cell (not given, 4), so the 6 goes too, as where a total is shown.
                ["woman", SUPPRESSED],
                ["man", 0],
                ["non_binary", 0],
                ["another_way", 0],
                ["prefer_not_to_say", 0],
                ["not_given", SUPPRESSED],
                ["total", SUPPRESSED],
            ],
        )
        # No small cell, but the two rows would add up to the withheld total: one is withheld.
        self.assertEqual(
            report.table("demographics_disability").rows,
            [
                ["yes", SUPPRESSED],
                ["no", 5],
                ["prefer_not_to_say", 0],
                ["not_given", 0],
                ["total", SUPPRESSED],
            ],
        )
        # A district with fewer active members than the threshold is not named at all.
        self.assertEqual(
            report.table("demographics_area").rows,
            [
                ["GL50", 6],
                ["other_areas", SUPPRESSED],
                ["not_a_postcode_district", SUPPRESSED],
                ["not_given", SUPPRESSED],
                ["total", SUPPRESSED],
            ],
        )

    def test_the_tables_and_their_definitions_reach_every_format(self):
        with frozen():
            self.client.force_login(user_of(self.cora))
            period = {"start": START.isoformat(), "end": END.isoformat()}
            response = self.client.get(
                reverse("commissioner-report-csv", args=["riverside"]),
                {**period, "table": "demographics_disability"},
            )
            rows = list(csv.reader(io.StringIO(response.content.decode())))
            api = self.client.get(reverse("api-report"), {**period, "banks": "riverside"}).json()
            page = self.client.get(reverse("commissioner-report", args=["riverside"]), period)
        self.assertEqual(rows[0], ["disability", "active_members"])
        self.assertIn(["yes", "suppressed"], rows)
        self.assertIn(["no", "5"], rows)
        tables = {t["name"]: t for t in api["tables"]}
        self.assertEqual(tables["demographics_carer"]["rows"][0], ["yes", "suppressed"])
        self.assertEqual(tables["demographics_carer"]["rows"][1], ["no", "suppressed"])
        self.assertIn("demographics", [d["term"] for d in api["definitions"]])
        self.assertContains(page, "People who took part, by age")
        # The page says the answers in words; the CSV and the JSON keep their machine names.
        self.assertContains(page, "Prefer not to say")
        self.assertNotContains(page, ">prefer_not_to_say<")
        # Nobody's free-text area is printed; the one-person district is folded away.
        for text in (api, page.content.decode()):
            self.assertNotIn("GL51", str(text))
            self.assertNotIn("Old Town", str(text))
