"""Two admins import the same files into one bank at the same moment, on real parallel
connections (PostgreSQL): one import writes them, the other waits for it, checks again and
finds nothing new; nothing is written twice and the ledger stays sound."""

from __future__ import annotations

import threading
from unittest import skipUnless

from django.db import connection
from django.test import TransactionTestCase

from exchanges.models import Exchange
from imports import services
from ledger import services as ledger
from members.models import Person, Role
from tests.factories import make_bank, make_member

from .test_import import bank_files_in

WORKERS = 4


@skipUnless(connection.vendor == "postgresql", "needs real parallel connections: PostgreSQL only")
class ImportsAtTheSameMoment(TransactionTestCase):
    def test_the_same_files_imported_at_once_are_written_once(self):
        bank = make_bank(name="Shire Time Bank", slug="shire")
        admins = [make_member(bank, f"Admin {n}", role=Role.ADMIN) for n in range(WORKERS)]
        barrier = threading.Barrier(WORKERS)
        results: list[services.CommandResult] = []
        errors: list[BaseException] = []

        def work(admin: Person) -> None:
            try:
                barrier.wait()
                results.append(
                    services.import_files(
                        files=bank_files_in(), file_name="x.zip", time_bank=bank, actor=admin
                    )
                )
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(a,)) for a in admins]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(
            sorted(r.plan.nothing_new for r in results), [False] + [True] * (WORKERS - 1)
        )
        self.assertEqual(Exchange.objects.filter(time_bank=bank).count(), 3)
        self.assertEqual(Person.objects.filter(display_name="Jo Bloggs").count(), 1)
        self.assertEqual(ledger.verify_ledger(time_bank=bank), [])
