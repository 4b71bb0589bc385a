from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from members.models import Status
from tests.base import CastTestCase
from tests.support import user_of


class MeEndpoint(CastTestCase):
    def test_it_returns_the_callers_person_and_memberships(self):
        client = APIClient()
        client.force_authenticate(self.alice.user)
        body = client.get("/api/me/").json()
        self.assertEqual(body["person"]["display_name"], "Alice Archer")
        self.assertEqual([m["time_bank"]["slug"] for m in body["memberships"]], ["riverside"])

    def test_token_authentication_works(self):
        token = Token.objects.create(user=user_of(self.bob))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        self.assertEqual(client.get("/api/me/").json()["person"]["display_name"], "Bob Baker")

    def test_anonymous_callers_are_refused(self):
        self.assertIn(APIClient().get("/api/me/").status_code, {401, 403})

    def test_the_schema_and_docs_are_served(self):
        client = APIClient()
        schema = client.get("/api/schema/")
        self.assertEqual(schema.status_code, 200)
        self.assertIn(b"/api/me/", schema.content)
        self.assertEqual(client.get("/api/docs/").status_code, 200)


class ApplicationsApi(CastTestCase):
    def client_for(self, person):
        client = APIClient()
        client.force_authenticate(person.user)
        return client

    def test_a_broker_lists_only_their_own_banks_applicants(self):
        names = [
            a["person"]["display_name"]
            for a in self.client_for(self.brenda).get("/api/applications/").json()["results"]
        ]
        self.assertEqual(names, ["Dora Applicant"])
        hugo_names = [
            a["person"]["display_name"]
            for a in self.client_for(self.hugo).get("/api/applications/").json()["results"]
        ]
        self.assertEqual(hugo_names, ["Harry Hopeful"])

    def test_a_broker_of_another_bank_cannot_see_or_decide_an_applicant(self):
        application = self.dora.memberships.get()
        hugo = self.client_for(self.hugo)
        self.assertEqual(hugo.get(f"/api/applications/{application.pk}/").status_code, 404)
        self.assertEqual(hugo.post(f"/api/applications/{application.pk}/approve/").status_code, 404)
        self.assertEqual(
            hugo.post(f"/api/applications/{application.pk}/decline/", {"reason": "no"}).status_code,
            404,
        )
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)

    def test_members_and_commissioners_see_no_applicants_and_cannot_approve(self):
        application = self.dora.memberships.get()
        for person in (self.alice, self.cora, self.dora):
            client = self.client_for(person)
            self.assertEqual(client.get("/api/applications/").json()["results"], [])
            self.assertEqual(
                client.post(f"/api/applications/{application.pk}/approve/").status_code, 404
            )
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)

    def test_a_broker_approves_through_the_api_and_the_applicant_is_emailed_after_commit(self):
        application = self.dora.memberships.get()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.brenda).post(
                f"/api/applications/{application.pk}/approve/"
            )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "approved")
        self.assertEqual(mail.outbox[0].to, [user_of(self.dora).email])

    def test_declining_without_a_reason_is_a_400_naming_the_field(self):
        application = self.dora.memberships.get()
        response = self.client_for(self.brenda).post(
            f"/api/applications/{application.pk}/decline/", {}
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("reason", response.json())

    def test_deciding_twice_is_a_400_with_a_clear_message(self):
        application = self.dora.memberships.get()
        brenda = self.client_for(self.brenda)
        brenda.post(f"/api/applications/{application.pk}/approve/")
        response = brenda.post(f"/api/applications/{application.pk}/approve/")
        self.assertEqual(response.status_code, 400)
        self.assertIn("already been decided", response.json()["detail"])
