import base64
from contextlib import contextmanager
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPouch(CollectionCommon):
    """Payment pouches of a collector, counted and posted by a manager, on
    the company's bank journal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="pia.pouch",
            name="Pia Pouch",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Beta Buyer", "is_company": True}
        )
        cls.bank = cls.env["res.bank"].create({"name": "Banco Ejemplo"})
        cls.journal = cls.company_data["default_journal_bank"]
        cls.company_data_b = cls.setup_other_company(name="Company B")

    @contextmanager
    def assertRefused(self, exception, text):
        """Assert that the block raises ``exception`` with ``text`` in its
        message."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertIn(text, str(caught.exception))

    def create_pouch(self, items, declared=None, user=None, received="2026-03-01"):
        """Create a pouch of the collector with ``items`` (values of each
        item), declared at their total unless ``declared`` is given."""
        env = self.env(user=user) if user else self.env
        pouch = env["collection.pouch"].create(
            {
                "collector_id": self.collector.id,
                "journal_id": self.journal.id,
                "date_received": received,
                "amount_declared": (
                    declared
                    if declared is not None
                    else sum(item["amount"] for item in items)
                ),
                "item_ids": [
                    Command.create({"bank_id": self.bank.id, **values})
                    for values in items
                ],
            }
        )
        return pouch.with_env(self.env)

    def receive_and_check(self, pouch, counted=None):
        pouch.with_user(self.collector).action_receive()
        pouch.amount_counted = pouch.amount_total if counted is None else counted
        pouch.action_check()

    def post(self, pouch, counted=None):
        self.receive_and_check(pouch, counted)
        pouch.action_post()
        return pouch

    # ------------------------------------------------------------------
    # Posting
    # ------------------------------------------------------------------

    def test_mixed_instruments_pay_exactly(self):
        """Invoices of 1,000, 500 and 300 of one customer and 200 of another.
        A cheque of 300 that names the invoice of 300 pays it although it is
        the newest. Cash of 1,500 pays the 1,000 and the 500, oldest first. A
        transfer slip of 200 pays the other customer's invoice. Every invoice
        is paid in full by a payment per item."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(500, "2026-01-20")
        third = self.create_invoice(300, "2026-02-01")
        other = self.create_invoice(200, "2026-01-15", partner=self.other_customer)
        pouch = self.create_pouch(
            [
                {
                    "partner_id": self.customer.id,
                    "instrument": "cheque",
                    "number": "0001",
                    "amount": 300,
                    "reference": third.name,
                },
                {"partner_id": self.customer.id, "instrument": "cash", "amount": 1500},
                {
                    "partner_id": self.other_customer.id,
                    "instrument": "transfer_slip",
                    "number": "TR-9",
                    "amount": 200,
                },
            ]
        )
        cheque, cash, slip = pouch.item_ids
        self.assertEqual(cheque.allocation_ids.move_id, third)
        self.assertEqual(cash.allocation_ids.move_id, first | second)
        self.assertEqual(cash.allocation_ids.mapped("amount"), [1000, 500])
        self.assertEqual(slip.allocation_ids.move_id, other)
        self.assertTrue(pouch.name.startswith("POUCH/"))

        self.post(pouch)
        self.assertEqual(pouch.state, "posted")
        self.assertEqual(len(pouch.payment_ids), 3)
        for invoice in first | second | third | other:
            self.assertEqual(invoice.amount_residual, 0)
        self.assertEqual(cheque.payment_id.amount, 300)
        self.assertEqual(cheque.payment_id.date, date(2026, 3, 1))
        self.assertEqual(pouch.posted_by_id, self.env.user)
        self.assertIn(pouch.name, first.message_ids[0].body)

    def test_overpayment_left_as_credit(self):
        """A cheque of 1,200 on an invoice of 1,000 pays it and leaves 200 as
        the customer's outstanding credit."""
        invoice = self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0002", "amount": 1200}]
        )
        item = pouch.item_ids
        self.assertEqual(item.amount_unallocated, 200)
        self.post(pouch)
        self.assertEqual(invoice.amount_residual, 0)
        credit = item.payment_id.move_id.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        self.assertEqual(credit.amount_residual, -200)

    def test_underpayment_pays_part(self):
        """A cheque of 600 on invoices of 1,000 and 500: the oldest, of 1,000,
        keeps 400 owed, and the other stays whole."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(500, "2026-01-20")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0003", "amount": 600}]
        )
        self.assertEqual(pouch.item_ids.allocation_ids.move_id, first)
        self.post(pouch)
        self.assertEqual(first.amount_residual, 400)
        self.assertEqual(second.amount_residual, 500)

    def test_two_partial_invoices_refused(self):
        """A cheque of 600 split 300 and 300 over invoices of 1,000 and 500
        cannot be reconciled that way: posting is refused."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(500, "2026-01-20")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0004", "amount": 600}]
        )
        pouch.item_ids.allocation_ids = [
            Command.clear(),
            Command.create(
                {"move_line_id": self.receivable_lines(first).id, "amount": 300}
            ),
            Command.create(
                {"move_line_id": self.receivable_lines(second).id, "amount": 300}
            ),
        ]
        self.receive_and_check(pouch)
        with self.assertRefused(UserError, "part of one invoice only"):
            pouch.action_post()
        self.assertEqual(pouch.state, "checked")
        self.assertFalse(pouch.payment_ids)

    def test_post_twice_refused(self):
        """A posted pouch cannot be posted again nor changed."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0005", "amount": 1000}]
        )
        self.post(pouch)
        with self.assertRefused(UserError, "only a checked pouch can be posted"):
            pouch.action_post()
        with self.assertRefused(UserError, "changed in draft only"):
            pouch.amount_declared = 900
        with self.assertRefused(UserError, "can no longer be changed"):
            pouch.item_ids.amount = 900
        with self.assertRefused(UserError, "can no longer be changed"):
            pouch.item_ids = [
                Command.create(
                    {"partner_id": self.customer.id, "instrument": "cash", "amount": 5}
                )
            ]
        self.assertEqual(len(pouch.payment_ids), 1)

    def test_promissory_note_paid_at_maturity(self):
        """A promissory note received 1 March and maturing 31 May is paid on
        31 May: its payment is dated then, the invoice stays owed but is not
        chased until then, and the run of 31 May reconciles it."""
        invoice = self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [
                {
                    "partner_id": self.customer.id,
                    "instrument": "promissory_note",
                    "number": "PG-1",
                    "date_issue": "2026-02-28",
                    "date_maturity": "2026-05-31",
                    "amount": 1000,
                }
            ]
        )
        with freeze_time("2026-03-01"):
            self.post(pouch)
        item = pouch.item_ids
        self.assertEqual(item.payment_id.date, date(2026, 5, 31))
        self.assertEqual(invoice.amount_residual, 1000)
        self.assertFalse(item.date_applied)
        pending = [
            ("state", "=", "posted"),
            ("date_maturity", ">", "2026-03-15"),
        ]
        self.assertEqual(self.env["collection.pouch.item"].search(pending), item)

        with freeze_time("2026-04-01"):
            run = self.run_collection("2026-04-01")
        self.assertEqual(run.skip_counts.get("pouch"), 1)
        self.assertFalse(self.notices_of())
        with freeze_time("2026-05-31"):
            self.run_collection("2026-05-31")
        self.assertEqual(invoice.amount_residual, 0)
        self.assertEqual(item.date_applied, date(2026, 5, 31))
        self.assertEqual(
            self.receivable_lines(invoice).matched_credit_ids.max_date,
            date(2026, 5, 31),
        )

    def test_post_dated_cheque_waits_for_its_date(self):
        """A cheque dated 1 May, received 1 March without a maturity, is paid
        on 1 May. Returned on 10 March, before its date, it is reversed on 1
        May and the invoice it was to pay is still owed."""
        invoice = self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [
                {
                    "partner_id": self.customer.id,
                    "number": "0011",
                    "date_issue": "2026-05-01",
                    "amount": 1000,
                }
            ]
        )
        with freeze_time("2026-03-01"):
            self.post(pouch)
        item = pouch.item_ids
        self.assertEqual(item.payment_id.date, date(2026, 5, 1))
        with freeze_time("2026-03-10"):
            item._bounce(date(2026, 3, 10), "Stopped by the drawer")
        self.assertEqual(item.bounce_move_id.date, date(2026, 5, 1))
        self.assertEqual(invoice.amount_residual, 1000)

    # ------------------------------------------------------------------
    # Counting
    # ------------------------------------------------------------------

    def test_difference_needs_manager_approval(self):
        """Declared 1,000, counted 950: the check is refused until a manager
        approves the difference with a note. The collector cannot approve it,
        nor count a pouch they handed over."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 950}],
            declared=1000,
            user=self.collector,
        )
        pouch.with_user(self.collector).action_receive()
        pouch.with_user(self.collector).amount_counted = 950
        self.assertEqual(pouch.amount_difference, -50)

        with self.assertRefused(UserError, "someone else must count it"):
            pouch.with_user(self.collector).action_check()
        with self.assertRefused(UserError, "must approve the difference"):
            pouch.action_check()
        with self.assertRefused(AccessError, "Only a collections manager"):
            pouch.with_user(self.collector)._approve_difference("Short by 50")
        with self.assertRefused(UserError, "Enter a note"):
            pouch._approve_difference(" ")

        pouch._approve_difference("50 in cash missing, collector to repay")
        pouch.action_check()
        self.assertEqual(pouch.state, "checked")
        self.assertEqual(pouch.difference_approved_by_id, self.env.user)
        self.assertEqual(
            pouch.difference_note, "50 in cash missing, collector to repay"
        )
        self.assertTrue(
            any("approved by" in message.body for message in pouch.message_ids)
        )

    def test_counted_must_match_items(self):
        """A counted total of 900 for items of 950 is refused without any
        difference to approve: the items must describe what was counted."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 950}]
        )
        pouch.with_user(self.collector).action_receive()
        pouch.amount_counted = 900
        with self.assertRefused(UserError, "differs from its items total"):
            pouch.action_check()

    def test_equal_totals_checked_without_approval(self):
        """Declared and counted 950: checked at once."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 950}]
        )
        self.receive_and_check(pouch)
        self.assertEqual(pouch.state, "checked")
        self.assertFalse(pouch.difference_approved_by_id)

    # ------------------------------------------------------------------
    # Bounces
    # ------------------------------------------------------------------

    def test_bounce_reopens_and_escalates(self):
        """1,000 due 1 January reaches the first reminder on 8 January. A
        cheque pays it in a pouch of 15 January, deposited 16 January. It
        bounces on 25 January with 12 of return costs charged on. Then the
        invoice owes 1,000 again, the costs are invoiced, the collector gets
        an activity, and the run of 26 January moves the invoice on to the
        second reminder (day 21) instead of starting over."""
        self.company.write(
            {
                "collection_penalty_product_id": self.product_a.id,
                "collection_penalty_account_id": (
                    self.company_data["default_account_revenue"].id
                ),
            }
        )
        self.customer.collection_user_id = self.collector
        invoice = self.create_invoice(1000, "2026-01-01")
        with freeze_time("2026-01-08"):
            self.run_collection("2026-01-08")
        line = self.receivable_lines(invoice)
        self.assertEqual(line.collection_stage_id, self.stage_first)

        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0006", "amount": 1000}],
            received="2026-01-15",
        )
        self.post(pouch)
        pouch._deposit(date(2026, 1, 16), "DEP-1")
        self.assertEqual(pouch.state, "deposited")
        self.assertEqual(invoice.amount_residual, 0)

        item = pouch.item_ids
        with freeze_time("2026-01-25"):
            wizard = self.env["collection.pouch.bounce"].create(
                {"item_id": item.id, "reason": "Insufficient funds", "cost": 12}
            )
            self.assertTrue(wizard.charge_cost)
            wizard.action_confirm()
        self.assertEqual(item.state, "bounced")
        self.assertEqual(item.bounce_reason, "Insufficient funds")
        self.assertEqual(invoice.amount_residual, 1000)
        self.assertEqual(item.payment_id.state, "rejected")
        self.assertEqual(item.bounce_move_id.state, "posted")
        self.assertEqual(item.bounce_fee_move_id.amount_total, 12)
        self.assertEqual(
            item.bounce_fee_move_id.invoice_line_ids.collection_origin_move_id,
            invoice,
        )
        activity = invoice.activity_ids.filtered(
            lambda act: "Bounced item" in act.summary
        )
        self.assertEqual(activity.user_id, self.collector)
        self.assertEqual(line.collection_stage_id, self.stage_first)

        with freeze_time("2026-01-26"):
            self.run_collection("2026-01-26")
        self.assertEqual(line.collection_stage_id, self.stage_second)
        histories = self.env["collection.history"].search(
            [("move_line_id", "=", line.id)]
        )
        self.assertEqual(
            len(
                histories.filtered(lambda history: history.stage_id == self.stage_first)
            ),
            1,
        )
        self.assertIn(self.stage_second, histories.stage_id)

    def test_bounce_needs_manager_and_reason(self):
        """A collector cannot record a bounce, and a bounce needs a reason."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.post(
            self.create_pouch(
                [{"partner_id": self.customer.id, "number": "0007", "amount": 1000}]
            )
        )
        item = pouch.item_ids
        with self.assertRefused(AccessError, "Only a collections manager"):
            item.with_user(self.collector)._bounce(date(2026, 3, 5), "Returned")
        with self.assertRefused(UserError, "Enter the reason"):
            item._bounce(date(2026, 3, 5), "")
        self.assertEqual(item.state, "posted")

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------

    def test_bad_items_refused(self):
        """An amount of zero, a maturity before the issue date and an
        instrument number entered twice for the same bank are refused."""
        pouch = self.create_pouch([])
        items = self.env["collection.pouch.item"]
        base = {"pouch_id": pouch.id, "partner_id": self.customer.id}
        with self.assertRefused(ValidationError, "must be above zero"):
            items.create({**base, "instrument": "cash", "amount": 0})
        with self.assertRefused(ValidationError, "before it was issued"):
            items.create(
                {
                    **base,
                    "amount": 10,
                    "date_issue": "2026-03-01",
                    "date_maturity": "2026-02-01",
                }
            )
        items.create({**base, "amount": 10, "number": "77", "bank_id": self.bank.id})
        with self.assertRefused(ValidationError, "is already in the pouch"):
            items.create(
                {**base, "amount": 20, "number": "77", "bank_id": self.bank.id}
            )

    def test_bad_allocations_refused(self):
        """Allocations above the item, above the invoice's residual, on
        another customer's invoice or on another company's invoice are
        refused."""
        invoice = self.create_invoice(1000, "2026-01-10")
        other = self.create_invoice(200, "2026-01-10", partner=self.other_customer)
        other_company = self.company_data_b["company"]
        foreign = self.create_invoice(300, "2026-01-10", company=other_company)
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0008", "amount": 500}]
        )
        item = pouch.item_ids
        line = self.receivable_lines(invoice)

        def allocate(move_line, amount):
            item.allocation_ids = [
                Command.clear(),
                Command.create({"move_line_id": move_line.id, "amount": amount}),
            ]

        with self.assertRefused(ValidationError, "more than its amount"):
            allocate(line, 600)
        item.amount = 1500
        with self.assertRefused(ValidationError, "which owes only"):
            allocate(line, 1200)
        with self.assertRefused(ValidationError, "not of Acme Debtor"):
            allocate(self.receivable_lines(other), 100)
        with self.assertRefused(ValidationError, "not to the company"):
            allocate(self.receivable_lines(foreign), 100)

    def import_file(self, pouch, lines, filename="items.csv"):
        content = "\n".join(lines).encode()
        wizard = self.env["collection.pouch.import"].create(
            {
                "pouch_id": pouch.id,
                "file": base64.b64encode(content),
                "filename": filename,
            }
        )
        return wizard.action_import()

    def test_import_bad_row_imports_nothing(self):
        """A file of three rows whose third has an amount of -5 and whose
        fourth names no known customer imports nothing and reports rows 4
        and 5 (the titles are row 1). Once corrected, the three rows are
        imported with their invoices suggested."""
        self.customer.ref = "ACME"
        invoice = self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch([])
        header = "customer;instrument;number;bank;maturity;amount;reference"
        good = [
            f"ACME;cheque;100;Banco Ejemplo;31/03/2026;600,00;{invoice.name}",
            "Acme Debtor;Cash;;;;150.5;",
        ]
        with self.assertRefused(UserError, "Row 4: the amount must be above zero"):
            self.import_file(
                pouch, [header, *good, "ACME;cash;;;;-5;", "Nobody;cash;;;;5;"]
            )
        self.assertFalse(pouch.item_ids)
        with self.assertRefused(UserError, "Row 5: no customer matches Nobody"):
            self.import_file(
                pouch, [header, *good, "ACME;cash;;;;-5;", "Nobody;cash;;;;5;"]
            )
        self.import_file(pouch, [header, *good, "ACME;transfer slip;T-1;;;10;"])
        self.assertEqual(len(pouch.item_ids), 3)
        cheque = pouch.item_ids[0]
        self.assertEqual(cheque.amount, 600)
        self.assertEqual(cheque.date_maturity, date(2026, 3, 31))
        self.assertEqual(cheque.allocation_ids.move_id, invoice)
        self.assertEqual(pouch.item_ids[1].amount, 150.5)
        self.assertEqual(pouch.item_ids[2].instrument, "transfer_slip")

    def test_import_duplicate_number_imports_nothing(self):
        """Two rows with the same cheque number of the same bank: the second
        is reported and neither is imported."""
        pouch = self.create_pouch([])
        header = "customer,instrument,number,bank,amount"
        row = "Acme Debtor,cheque,55,Banco Ejemplo,10"
        with self.assertRefused(UserError, "Row 3:"):
            self.import_file(pouch, [header, row, row])
        self.assertFalse(pouch.item_ids)

    # ------------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------------

    def test_collector_registers_manager_posts(self):
        """A collector creates a pouch, adds items and receives it, but cannot
        post it; a manager can."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0009", "amount": 1000}],
            user=self.collector,
        )
        self.assertEqual(pouch.create_uid, self.collector)
        pouch.with_user(self.collector).action_receive()
        self.assertEqual(pouch.received_by_id, self.collector)
        pouch.amount_counted = 1000
        pouch.action_check()
        with self.assertRefused(AccessError, "Only a collections manager"):
            pouch.with_user(self.collector).action_post()
        pouch.action_post()
        self.assertEqual(pouch.state, "posted")

    def test_other_company_pouch_hidden(self):
        """A collector of one company does not see the pouches of another."""
        other_company = self.company_data_b["company"]
        pouch = (
            self.env["collection.pouch"]
            .with_company(other_company)
            .create(
                {
                    "collector_id": self.env.user.id,
                    "company_id": other_company.id,
                    "journal_id": self.company_data_b["default_journal_bank"].id,
                }
            )
        )
        visible = (
            self.env["collection.pouch"]
            .with_user(self.collector)
            .search([("id", "=", pouch.id)])
        )
        self.assertFalse(visible)

    def test_receipt_and_views(self):
        """The receipt lists each item with its invoices and the signature
        lines, and the pouch and item views load for a collector."""
        invoice = self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0010", "amount": 1000}]
        )
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("fast_collections.report_collection_pouch", pouch.ids)[0]
            .decode()
        )
        self.assertIn(pouch.name, html)
        self.assertIn("0010", html)
        self.assertIn(invoice.name, html)
        self.assertIn("Signature", html)
        for model, view_types in (
            ("collection.pouch", ["list", "form", "search"]),
            ("collection.pouch.item", ["list", "form", "search", "pivot"]),
        ):
            views = (
                self.env[model]
                .with_user(self.collector)
                .get_views([(False, view_type) for view_type in view_types])
            )
            self.assertEqual(set(views["views"]), set(view_types))

    # ------------------------------------------------------------------
    # Steps cannot be skipped by writing fields
    # ------------------------------------------------------------------

    def test_steps_not_written_by_hand(self):
        """A collector cannot write the status, the approval or the payment
        of a pouch or item, nor move an item into another pouch."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0012", "amount": 1000}]
        )
        as_collector = pouch.with_user(self.collector)
        for values in (
            {"state": "posted"},
            {"difference_approved_by_id": self.collector.id},
            {"difference_note": "fine"},
        ):
            with self.assertRefused(AccessError, "set by its steps"):
                as_collector.write(values)
        with self.assertRefused(AccessError, "set by its steps"):
            as_collector.item_ids.write({"state": "posted"})
        with self.assertRefused(AccessError, "set by its steps"):
            as_collector.item_ids.write({"payment_id": False})

        self.post(pouch)
        self.create_invoice(100, "2026-01-20")
        other = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 7}]
        )
        self.assertTrue(other.item_ids.allocation_ids)
        with self.assertRefused(UserError, "cannot be moved"):
            other.item_ids.pouch_id = pouch
        with self.assertRefused(UserError, "cannot be moved"):
            other.item_ids.allocation_ids.item_id = pouch.item_ids
        with self.assertRefused(UserError, "is entered while it is received"):
            pouch.amount_counted = 5
        self.assertEqual(pouch.amount_total, 1000)

    def test_approval_lost_when_count_changes(self):
        """A difference of -50 approved, then the items and the count raised
        by 5,000: the approval is gone and the check is refused."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 950}],
            declared=1000,
        )
        pouch.with_user(self.collector).action_receive()
        pouch.amount_counted = 950
        pouch._approve_difference("Short by 50")
        self.assertEqual(pouch.amount_difference_approved, -50)
        pouch.item_ids = [
            Command.create(
                {"partner_id": self.customer.id, "instrument": "cash", "amount": 5000}
            )
        ]
        pouch.amount_counted = 5950
        self.assertFalse(pouch.difference_approved_by_id)
        with self.assertRefused(UserError, "must approve the difference"):
            pouch.action_check()

    def test_header_fixed_after_receipt(self):
        """Once received, the collector, the journal and the declared total
        of a pouch are fixed, so a collector cannot hand the counting of
        their own pouch to themselves."""
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 10}]
        )
        pouch.with_user(self.collector).action_receive()
        with self.assertRefused(UserError, "changed in draft only"):
            pouch.with_user(self.collector).collector_id = self.env.user

    def test_pouch_needs_collector_or_branch(self):
        """A pouch without a collector or a branch, or deposited into a sales
        journal, is rejected."""
        pouches = self.env["collection.pouch"]
        with self.assertRefused(ValidationError, "collector or the branch"):
            pouches.create({"journal_id": self.journal.id})
        with self.assertRefused(ValidationError, "not a bank or cash journal"):
            pouches.create(
                {
                    "collector_id": self.collector.id,
                    "journal_id": self.company_data["default_journal_sale"].id,
                }
            )

    def test_journal_currency_change_suggests_again(self):
        """Items allocated to USD invoices lose their allocations when the
        pouch moves to a EUR journal, so nothing is paid in the wrong
        currency."""
        self.create_invoice(1000, "2026-01-10")
        euro = self.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        euro_journal = self.env["account.journal"].create(
            {
                "name": "Bank EUR",
                "code": "BEUR",
                "type": "bank",
                "currency_id": euro.id,
                "company_id": self.company.id,
            }
        )
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0013", "amount": 1000}]
        )
        self.assertTrue(pouch.item_ids.allocation_ids)
        pouch.journal_id = euro_journal
        self.assertEqual(pouch.currency_id, euro)
        self.assertFalse(pouch.item_ids.allocation_ids)

    def test_two_cheques_suggest_two_invoices(self):
        """Two cheques of 1,000 for two invoices of 1,000: the second cheque
        is suggested the second invoice, and both post."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(1000, "2026-01-20")
        pouch = self.create_pouch(
            [
                {"partner_id": self.customer.id, "number": "T1", "amount": 1000},
                {"partner_id": self.customer.id, "number": "T2", "amount": 1000},
            ]
        )
        one, two = pouch.item_ids
        self.assertEqual(one.allocation_ids.move_id, first)
        self.assertEqual(two.allocation_ids.move_id, second)
        self.post(pouch)
        self.assertEqual(first.amount_residual, 0)
        self.assertEqual(second.amount_residual, 0)

    def test_item_amount_lowered(self):
        """An item of 950 lowered to 100 is suggested 100 of the invoice."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0014", "amount": 950}]
        )
        pouch.item_ids.amount = 100
        self.assertEqual(pouch.item_ids.allocation_ids.amount, 100)

    def test_allocation_model_checks_item_total(self):
        """A second allocation created directly that takes the item above its
        amount is refused."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(1000, "2026-01-20")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0015", "amount": 1000}]
        )
        self.assertEqual(pouch.item_ids.allocation_ids.move_id, first)
        with self.assertRefused(ValidationError, "more than its amount"):
            self.env["collection.pouch.allocation"].create(
                {
                    "item_id": pouch.item_ids.id,
                    "move_line_id": self.receivable_lines(second).id,
                    "amount": 1000,
                }
            )

    def test_pouch_copy_and_deposit_date(self):
        """A pouch is copied without its items, and a deposit before the
        receipt is refused."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.create_pouch(
            [{"partner_id": self.customer.id, "number": "0016", "amount": 1000}]
        )
        self.assertFalse(pouch.copy().item_ids)
        self.post(pouch)
        with self.assertRefused(UserError, "cannot be deposited before"):
            pouch._deposit(date(2026, 2, 1), "DEP-2")

    def test_import_ambiguous_amount_and_spanish_names(self):
        """1,234 could be 1234 or 1.234, so it is refused; Pagaré and
        Efectivo are read as instruments."""
        pouch = self.create_pouch([])
        header = "cliente;instrumento;número;banco;vencimiento;importe"
        with self.assertRefused(UserError, "could be read two ways"):
            self.import_file(pouch, [header, "Acme Debtor;cash;;;;1,234"])
        self.import_file(
            pouch,
            [
                header,
                "Acme Debtor;Pagaré;P-7;Banco Ejemplo;30/06/2026;1.234,50",
                "Acme Debtor;Efectivo;;;;20",
            ],
        )
        note, cash = pouch.item_ids
        self.assertEqual(note.instrument, "promissory_note")
        self.assertEqual(note.amount, 1234.5)
        self.assertEqual(cash.instrument, "cash")
        with self.assertRefused(UserError, "no rows below"):
            self.import_file(pouch, [header])

    def test_item_messages(self):
        """A negative amount and a missing customer get their own message,
        and cash has no maturity."""
        pouch = self.create_pouch([])
        items = self.env["collection.pouch.item"]
        with self.assertRefused(ValidationError, "must be above zero"):
            items.create(
                {"pouch_id": pouch.id, "partner_id": self.customer.id, "amount": -3}
            )
        with self.assertRefused(ValidationError, "Enter the customer"):
            items.create({"pouch_id": pouch.id, "amount": 3})
        with self.assertRefused(ValidationError, "Cash is paid when"):
            items.create(
                {
                    "pouch_id": pouch.id,
                    "partner_id": self.customer.id,
                    "instrument": "cash",
                    "amount": 3,
                    "date_maturity": "2027-01-01",
                }
            )

    # ------------------------------------------------------------------
    # Second round of review
    # ------------------------------------------------------------------

    def test_registrant_collector_cannot_check(self):
        """A collector who registers a pouch of a branch cannot count it."""
        branch = self.env["res.partner"].create({"name": "Branch North"})
        pouch = (
            self.env["collection.pouch"]
            .with_user(self.collector)
            .create(
                {
                    "branch_id": branch.id,
                    "journal_id": self.journal.id,
                    "amount_declared": 10,
                    "item_ids": [
                        Command.create(
                            {
                                "partner_id": self.customer.id,
                                "instrument": "cash",
                                "amount": 10,
                            }
                        )
                    ],
                }
            )
        )
        pouch.action_receive()
        pouch.amount_counted = 10
        with self.assertRefused(UserError, "someone else must count it"):
            pouch.action_check()
        pouch.with_env(self.env).action_check()
        self.assertEqual(pouch.state, "checked")

    def test_pouch_payment_locked(self):
        """The payment of a posted item cannot be reset to draft or cancelled,
        by a collector nor by a manager: a bounce is recorded instead."""
        self.create_invoice(1000, "2026-01-10")
        pouch = self.post(
            self.create_pouch(
                [{"partner_id": self.customer.id, "number": "0017", "amount": 1000}]
            )
        )
        payment = pouch.item_ids.payment_id
        with self.assertRefused(UserError, "Record a bounce"):
            payment.with_user(self.collector).action_draft()
        with self.assertRefused(UserError, "Record a bounce"):
            payment.action_cancel()
        with self.assertRefused(UserError, "Record a bounce"):
            payment.move_id.button_draft()
        self.assertEqual(payment.move_id.state, "posted")

    def test_pending_note_reserves_its_invoice(self):
        """A promissory note of 1,000 pending maturity on invoice A: cash of
        1,000 in a later pouch is suggested invoice B."""
        first = self.create_invoice(1000, "2026-01-10")
        second = self.create_invoice(1000, "2026-01-20")
        note = self.create_pouch(
            [
                {
                    "partner_id": self.customer.id,
                    "instrument": "promissory_note",
                    "number": "PG-2",
                    "date_maturity": "2026-06-30",
                    "amount": 1000,
                }
            ]
        )
        with freeze_time("2026-03-01"):
            self.post(note)
        self.assertEqual(note.item_ids.allocation_ids.move_id, first)
        cash = self.create_pouch(
            [{"partner_id": self.customer.id, "instrument": "cash", "amount": 1000}]
        )
        self.assertEqual(cash.item_ids.allocation_ids.move_id, second)

    def test_small_note_does_not_pause_invoice(self):
        """A cheque of 10 dated a year later on an invoice of 10,000 leaves
        the invoice chased: only an invoice paid in full by instruments
        pending maturity is paused."""
        self.create_invoice(10000, "2026-01-10")
        pouch = self.create_pouch(
            [
                {
                    "partner_id": self.customer.id,
                    "number": "0018",
                    "date_issue": "2027-03-01",
                    "amount": 10,
                }
            ]
        )
        with freeze_time("2026-03-01"):
            self.post(pouch)
            run = self.run_collection("2026-03-01")
        self.assertFalse((run.skip_counts or {}).get("pouch"))
        self.assertTrue(self.notices_of())

    def test_promissory_note_needs_maturity(self):
        """A promissory note without a maturity is refused."""
        pouch = self.create_pouch([])
        with self.assertRefused(ValidationError, "has no maturity"):
            self.env["collection.pouch.item"].create(
                {
                    "pouch_id": pouch.id,
                    "partner_id": self.customer.id,
                    "instrument": "promissory_note",
                    "number": "PG-3",
                    "amount": 10,
                }
            )

    def test_import_refuses_odd_amounts_and_wildcards(self):
        """nan, 12,345,67, 1.2.3 and 1e3 are not amounts, and Acme_Debtor
        does not match Acme Debtor."""
        pouch = self.create_pouch([])
        header = "customer;instrument;amount"
        for amount in ("nan", "12,345,67", "1.2.3", "1e3"):
            with self.assertRefused(UserError, "Row 2:"):
                self.import_file(pouch, [header, f"Acme Debtor;cash;{amount}"])
        with self.assertRefused(UserError, "no customer matches Acme_Debtor"):
            self.import_file(pouch, [header, "Acme_Debtor;cash;10"])
        self.import_file(pouch, [header, "Acme Debtor;cash;1\u00a0234,50"])
        self.assertEqual(pouch.item_ids.amount, 1234.5)
