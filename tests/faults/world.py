"""The fault test's world, built in its throwaway database by ``manage.py shell``: one time bank
(the other party confirms, a broker approves every exchange), a broker and two members per
client, each with an API token. Prints what the clients need as JSON."""

from __future__ import annotations

import json
import os

from rest_framework.authtoken.models import Token

from ledger import services as ledger
from members.models import ApprovalRule, Role
from tests.factories import make_bank, make_member
from tests.support import user_of

CLIENTS = int(os.environ["FAULT_CLIENTS"])

bank = make_bank(
    name="Faultline Time Bank",
    slug="faultline",
    confirmation_required=True,
    approval_rule=ApprovalRule.ALL,
    # Deep enough that no limit refuses anything the clients record.
    default_credit_limit_minutes=-100_000,
)
broker = make_member(bank, "Bridget Broker", role=Role.BROKER)
clients = []
for n in range(CLIENTS):
    giver = make_member(bank, f"Giver {n}")
    receiver = make_member(bank, f"Receiver {n}")
    clients.append(
        {
            "giver_token": Token.objects.create(user=user_of(giver)).key,
            "receiver_token": Token.objects.create(user=user_of(receiver)).key,
            "receiver_account": ledger.open_account(time_bank=bank, person=receiver).pk,
            "giver_account": ledger.open_account(time_bank=bank, person=giver).pk,
        }
    )
print(
    json.dumps(
        {
            "bank": bank.slug,
            "broker_token": Token.objects.create(user=user_of(broker)).key,
            "clients": clients,
        }
    )
)
