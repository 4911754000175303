from contextlib import contextmanager
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPenalty(CollectionCommon):
    """Interest and fees on a company in USD, with the shipped Spanish
    statutory scheme (10.15% in the first half of 2026) on the policy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "collection_penalty_product_id": cls.product_a.id,
                "collection_penalty_account_id": (
                    cls.company_data["default_account_revenue"].id
                ),
            }
        )
        cls.statutory = cls.env.ref(
            "fast_collections.collection_interest_scheme_es_commercial"
        )
        cls.contractual = cls.env["collection.interest.scheme"].create(
            {"name": "Contract 10%", "scheme_type": "contractual", "annual_rate": 10}
        )
        cls.policy.interest_scheme_id = cls.statutory
        # One USD is worth 0.5 EUR, so 40 EUR are 80 USD.
        cls.euro = cls.setup_other_currency("EUR", rates=[("2020-01-01", 0.5)])
        cls.collector = new_test_user(
            cls.env,
            login="cora.collector",
            name="Cora Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector

    @contextmanager
    def assertRefused(self, exception, text):
        """Assert that the block raises ``exception`` with ``text`` in its
        message, rolling back to a savepoint."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertIn(text, str(caught.exception))

    def open_preview(self, invoices, on_date, mode="interest", user=None):
        env = self.env(user=user) if user else self.env
        with freeze_time(on_date):
            moves = env["account.move"].browse(invoices.ids)
            if mode == "interest":
                action = moves.action_collection_penalty_interest()
            else:
                action = moves.action_collection_penalty_fee()
        return env["collection.penalty.preview"].browse(action["res_id"])

    def book(self, preview, on_date):
        with freeze_time(on_date):
            preview.action_confirm()
        return self.penalty_invoices()

    def penalty_invoices(self):
        return self.env["account.move"].search(
            [("collection_is_penalty", "=", True), ("move_type", "=", "out_invoice")],
            order="id",
        )

    def open_dispute(self, invoice, on_date, amount):
        with freeze_time(on_date):
            action = invoice.action_collection_dispute()
            form = Form(
                self.env["collection.dispute"].with_context(**action["context"])
            )
            form.reason_id = self.env.ref("fast_collections.dispute_reason_defective")
            with form.line_ids.edit(0) as line:
                line.amount_disputed = amount
            return form.save()

    # ------------------------------------------------------------------
    # Interest
    # ------------------------------------------------------------------

    def test_partial_payment_claims(self):
        """1,000 due 1 January, 400 paid 31 January. Claim of 28 February:
        30 days on 1,000 (2 to 31 January, the day of payment included) and
        28 days on 600 at 10.15%, 8.3425 + 4.6718 = 13.01. Claim of 20 June:
        owed from 2 January, 8.3425 + 140 days on 600 (23.3589) = 31.70, less
        13.01 charged: 18.69, the 112 days of 1 March to 20 June on 600.
        Claim of 20 July: 33.37 owed up to 30 June, less 31.70: 1.67 for 21
        to 30 June, since the table has no rate for July."""
        invoice = self.create_invoice(1000, "2026-01-01")
        self.pay_invoice(invoice, 400, "2026-01-31")

        preview = self.open_preview(invoice, "2026-02-28")
        line = preview.line_ids
        self.assertEqual(line.amount, 13.01)
        self.assertEqual(line.days, 58)
        self.assertEqual(line.date_from, date(2026, 1, 2))
        self.assertIn("30 days", line.detail)
        self.assertIn("28 days", line.detail)
        self.assertIn("10.15%", line.detail)
        penalty_invoice = self.book(preview, "2026-02-28")
        self.assertEqual(penalty_invoice.amount_total, 13.01)
        self.assertEqual(
            penalty_invoice.invoice_line_ids.collection_origin_move_id, invoice
        )
        self.assertIn(invoice.name, penalty_invoice.invoice_line_ids.name)
        self.assertEqual(
            self.receivable_lines(invoice).collection_interest_date,
            date(2026, 2, 28),
        )

        preview = self.open_preview(invoice, "2026-06-20")
        self.assertEqual(preview.line_ids.date_from, date(2026, 3, 1))
        self.assertEqual(preview.line_ids.days, 112)
        self.assertEqual(preview.line_ids.amount, 18.69)
        self.book(preview, "2026-06-20")

        preview = self.open_preview(invoice, "2026-07-20")
        self.assertEqual(preview.line_ids.amount, 1.67)
        self.assertEqual(preview.line_ids.date_to, date(2026, 6, 30))
        self.assertIn("No reference rate", preview.line_ids.detail)

    def test_claim_twice_same_day_charges_nothing(self):
        """A second claim on the day of the first finds nothing to charge."""
        invoice = self.create_invoice(1000, "2026-01-01")
        self.book(self.open_preview(invoice, "2026-02-28"), "2026-02-28")
        with self.assertRefused(UserError, "Nothing to charge on"):
            self.open_preview(invoice, "2026-02-28")

    def test_no_interest_on_disputed_amount(self):
        """1,000 due 1 January at 10% (actual/365), 400 disputed from 11
        January: 9 days on 1,000 (2.4658) and 21 days on 600 (3.4521) up to
        31 January, 5.92."""
        self.policy.interest_scheme_id = self.contractual
        invoice = self.create_invoice(1000, "2026-01-01")
        self.open_dispute(invoice, "2026-01-11", 400)
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 5.92)
        self.assertIn("600.00", preview.line_ids.detail)

    def test_interest_on_invoice_not_due_rejected(self):
        """Interest on an invoice due tomorrow is rejected."""
        invoice = self.create_invoice(1000, "2026-03-02")
        with self.assertRefused(UserError, "is not overdue"):
            self.open_preview(invoice, "2026-03-01")

    def test_missing_settings_rejected(self):
        """Booking without an interest and fee product is rejected."""
        self.company.collection_penalty_product_id = False
        invoice = self.create_invoice(1000, "2026-01-01")
        preview = self.open_preview(invoice, "2026-02-28")
        with self.assertRefused(UserError, "no product for interest and fee"):
            self.book(preview, "2026-02-28")

    # ------------------------------------------------------------------
    # Fees
    # ------------------------------------------------------------------

    def test_compensation_once_per_invoice(self):
        """The 40 EUR compensation is charged once on an invoice in EUR, and
        as 80 USD on an invoice in USD."""
        self.policy.compensation_enabled = True
        invoice_eur = self.create_invoice(500, "2026-01-01", currency=self.euro)
        invoice_usd = self.create_invoice(500, "2026-01-01")
        preview = self.open_preview(invoice_eur | invoice_usd, "2026-01-10", "fee")
        amounts = {line.move_id: line.amount for line in preview.line_ids}
        self.assertEqual(amounts, {invoice_eur: 40.0, invoice_usd: 80.0})
        invoices = self.book(preview, "2026-01-10")
        self.assertEqual(len(invoices), 2)
        self.assertEqual(sorted(invoices.mapped("currency_id.name")), ["EUR", "USD"])
        with self.assertRefused(UserError, "Nothing to charge on"):
            self.open_preview(invoice_eur, "2026-02-10", "fee")

    def test_stage_fee_minimum_maximum(self):
        """A first reminder fee of 5% between 10 and 30: 10 on 100 and 30 on
        1,000, booked by the run on one invoice with a line per invoice."""
        self.stage_first.write(
            {
                "fee_type": "percent",
                "fee_percent": 5,
                "fee_minimum": 10,
                "fee_maximum": 30,
            }
        )
        small = self.create_invoice(100, "2026-03-01")
        large = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            run = self.run_collection("2026-03-08")
        penalty_invoice = self.penalty_invoices()
        self.assertEqual(len(penalty_invoice), 1)
        amounts = {
            line.collection_origin_move_id: line.price_subtotal
            for line in penalty_invoice.invoice_line_ids
        }
        self.assertEqual(amounts, {small: 10.0, large: 30.0})
        self.assertEqual(run.penalty_move_count, 1)
        self.assertEqual(run.penalty_amount, 40.0)

    def test_fee_minimum_above_maximum_rejected(self):
        """A percentage fee whose minimum is above its maximum is rejected."""
        with self.assertRefused(ValidationError, "is above its maximum"):
            self.stage_first.write(
                {
                    "fee_type": "percent",
                    "fee_percent": 5,
                    "fee_minimum": 40,
                    "fee_maximum": 30,
                }
            )

    # ------------------------------------------------------------------
    # Collection run
    # ------------------------------------------------------------------

    def setup_c18(self):
        """Invoice of 100 due 1 March at 10%; the first reminder charges
        interest and a fee of 10. The run of 16 March charges 15 days,
        100 x 10% x 15 / 365 = 0.41, and the fee: 10.41."""
        self.policy.interest_scheme_id = self.contractual
        self.stage_first.write(
            {"charge_interest": True, "fee_type": "fixed", "fee_amount": 10}
        )
        invoice = self.create_invoice(100, "2026-03-01")
        with freeze_time("2026-03-16"):
            run = self.run_collection("2026-03-16")
        return invoice, run

    def test_principal_paid_penalties_still_owed(self):
        """Paying exactly 100 leaves the 10.41 of interest and fee owed."""
        invoice, run = self.setup_c18()
        penalty_invoice = self.penalty_invoices()
        self.assertEqual(penalty_invoice.amount_total, 10.41)
        self.assertEqual(run.penalty_amount, 10.41)
        self.pay_invoice(invoice, 100, "2026-03-20")
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(penalty_invoice.amount_residual, 10.41)
        self.assertEqual(penalty_invoice.payment_state, "not_paid")

    def test_customer_follows_penalty_invoice(self):
        """The run's interest and fee invoice is followed by its customer
        once, with the subtypes Odoo gives a customer, as posting would."""
        self.setup_c18()
        penalty_invoice = self.penalty_invoices()
        followers = penalty_invoice.message_follower_ids
        self.assertEqual(followers.partner_id, penalty_invoice.partner_id)
        _default, _internal, external = self.env[
            "mail.message.subtype"
        ].default_subtypes("account.move")
        self.assertEqual(followers.subtype_ids, external)

    def test_subscribe_customers_before_posting(self):
        """The batch subscription makes each draft invoice's customer a
        follower with the customer subtypes, and skips archived customers."""
        archived = self.env["res.partner"].create({"name": "Archived customer"})
        drafts = self.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": "2026-03-16",
                    "invoice_line_ids": [
                        Command.create({"name": "Fee", "price_unit": 10})
                    ],
                }
                for partner in (self.customer, archived)
            ]
        )
        drafts.message_follower_ids.unlink()
        archived.active = False
        self.env["collection.penalty"]._subscribe_customers(drafts)
        _default, _internal, external = self.env[
            "mail.message.subtype"
        ].default_subtypes("account.move")
        followers = drafts[0].message_follower_ids
        self.assertEqual(followers.partner_id, self.customer)
        self.assertEqual(followers.subtype_ids, external)
        self.assertFalse(drafts[1].message_follower_ids)

    def test_resumed_run_invoice_due_on_run_date(self):
        """A run of 16 March done on 18 March books its interest and fee
        invoice dated and due on 16 March."""
        self.policy.interest_scheme_id = self.contractual
        self.stage_first.write({"fee_type": "fixed", "fee_amount": 10})
        self.create_invoice(100, "2026-03-01")
        with freeze_time("2026-03-18"):
            self.run_collection("2026-03-16")
        penalty_invoice = self.penalty_invoices()
        self.assertEqual(penalty_invoice.invoice_date, date(2026, 3, 16))
        self.assertEqual(penalty_invoice.invoice_date_due, date(2026, 3, 16))

    def test_repeated_run_charges_nothing(self):
        """Running again on the same day, and the next day, books nothing."""
        self.setup_c18()
        with freeze_time("2026-03-16"):
            again = self.run_collection("2026-03-16")
        with freeze_time("2026-03-17"):
            next_day = self.run_collection("2026-03-17")
        self.assertEqual(again.penalty_move_count, 0)
        self.assertEqual(next_day.penalty_move_count, 0)
        self.assertEqual(len(self.penalty_invoices()), 1)
        self.assertEqual(len(self.env["collection.penalty"].search([])), 2)

    def test_legal_reads_charges_of_cases_only(self):
        """A Legal user reads the charges of their cases' customers only."""
        self.setup_c18()
        legal = new_test_user(
            self.env,
            login="lucas.legal",
            groups="base.group_user,fast_collections.group_collection_legal",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        penalties = self.env["collection.penalty"].search([])
        self.assertEqual(len(penalties), 2)
        self.assertFalse(self.env["collection.penalty"].with_user(legal).search([]))
        self.env["collection.legal.case"].create(
            {
                "origin": "stage",
                "partner_id": self.customer.id,
                "user_id": legal.id,
                "date_deadline": "2026-04-30",
            }
        )
        self.assertEqual(
            self.env["collection.penalty"].with_user(legal).search([]), penalties
        )

    def test_run_reports_missing_rate_once(self):
        """Interest at the formal notice on an invoice due 1 June, run on
        20 July: June is charged, the missing July rate is reported once even
        when a later stage meets it again."""
        self.stage_formal.charge_interest = True
        self.stage_legal.charge_interest = True
        self.create_invoice(1000, "2026-06-01")
        with freeze_time("2026-07-20"):
            self.run_collection("2026-07-20")
        penalty = self.env["collection.penalty"].search([("kind", "=", "interest")])
        self.assertEqual(penalty.date_to, date(2026, 6, 30))
        self.assertEqual(self.statutory.missing_rate_date, date(2026, 7, 1))
        self.assertEqual(len(self.statutory.activity_ids), 1)
        with freeze_time("2026-08-20"):
            self.run_collection("2026-08-20")
        self.assertEqual(len(self.statutory.activity_ids), 1)
        self.assertEqual(
            len(self.env["collection.penalty"].search([("kind", "=", "interest")])),
            1,
        )

    # ------------------------------------------------------------------
    # Waiver and access
    # ------------------------------------------------------------------

    def test_waiver_by_manager(self):
        """A manager waives the 10.41 with a reason: a credit note settles
        the invoice and the charges record who waived them and why."""
        self.setup_c18()
        penalty_invoice = self.penalty_invoices()
        action = penalty_invoice.action_collection_waive_penalties()
        wizard = (
            self.env["collection.penalty.waive"]
            .with_context(**action["context"])
            .create({"reason": "Goodwill gesture"})
        )
        wizard.action_confirm()
        self.assertEqual(penalty_invoice.amount_residual, 0.0)
        penalties = penalty_invoice.collection_penalty_ids
        self.assertEqual(set(penalties.mapped("state")), {"waived"})
        self.assertEqual(penalties.waived_by_id, self.env.user)
        self.assertEqual(set(penalties.mapped("waive_reason")), {"Goodwill gesture"})
        credit_note = penalties.waive_move_id
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.amount_total, 10.41)
        self.assertIn("Goodwill gesture", penalty_invoice.message_ids[0].body)

    def test_waiver_needs_reason(self):
        """A waiver without a reason is rejected."""
        self.setup_c18()
        with self.assertRefused(UserError, "Enter the reason"):
            self.env["collection.penalty"]._waive_moves(self.penalty_invoices(), " ")

    def test_collector_previews_but_cannot_waive(self):
        """A collector opens the preview (16.13 on 1,000 over 58 days at
        10.15%) but cannot waive."""
        invoice = self.create_invoice(1000, "2026-01-01")
        preview = self.open_preview(invoice, "2026-02-28", user=self.collector)
        self.assertEqual(preview.line_ids.amount, 16.13)
        self.setup_c18()
        penalty_invoice = self.penalty_invoices().with_user(self.collector)
        with self.assertRefused(AccessError, "Only a collections manager"):
            penalty_invoice.action_collection_waive_penalties()
        with self.assertRefused(AccessError, "Only a collections manager"):
            self.env["collection.penalty"].with_user(self.collector)._waive_moves(
                penalty_invoice, "No reason"
            )

    # ------------------------------------------------------------------
    # Rate tables
    # ------------------------------------------------------------------

    def test_bad_rate_tables_rejected(self):
        """A negative rate, an overlapping row and a gap are rejected."""
        with self.assertRefused(ValidationError, "negative"):
            self.contractual.annual_rate = -1
        with self.assertRefused(ValidationError, "overlap"):
            self.statutory.rate_ids = [
                Command.create(
                    {
                        "date_from": "2026-06-01",
                        "date_to": "2026-12-31",
                        "reference_rate": 2.0,
                    }
                )
            ]
        with self.assertRefused(ValidationError, "gap"):
            self.statutory.rate_ids = [
                Command.create(
                    {
                        "date_from": "2026-08-01",
                        "date_to": "2026-12-31",
                        "reference_rate": 2.0,
                    }
                )
            ]
        with self.assertRefused(ValidationError, "negative"):
            self.statutory.rate_ids = [
                Command.create(
                    {
                        "date_from": "2026-07-01",
                        "date_to": "2026-12-31",
                        "reference_rate": -0.5,
                        "publication": "BOE 2026-07-01",
                    }
                )
            ]

    # ------------------------------------------------------------------
    # Booking checks, paid invoices, rates
    # ------------------------------------------------------------------

    def contract_invoice(self):
        """1,000 due 1 January at 10% (actual/365): claimed on 31 January,
        30 days, 1,000 x 10% x 30 / 365 = 8.2192, so 8.22."""
        self.policy.interest_scheme_id = self.contractual
        return self.create_invoice(1000, "2026-01-01")

    def interest_charges(self):
        return self.env["collection.penalty"].search(
            [("kind", "=", "interest")], order="id"
        )

    def test_confirm_twice_books_once(self):
        """Confirming the same preview twice books the 8.22 once."""
        invoice = self.contract_invoice()
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 8.22)
        self.book(preview, "2026-01-31")
        with self.assertRefused(UserError, "already booked"):
            self.book(preview, "2026-01-31")
        self.assertEqual(self.penalty_invoices().mapped("amount_total"), [8.22])

    def test_two_previews_book_once(self):
        """Two previews of the same 30 days (8.22) opened before either is
        booked: the second one is refused, so 8.22 is charged in all."""
        invoice = self.contract_invoice()
        first = self.open_preview(invoice, "2026-01-31")
        second = self.open_preview(invoice, "2026-01-31", user=self.collector)
        self.book(first, "2026-01-31")
        with self.assertRefused(UserError, "Nothing is left to charge on the selected"):
            self.book(second, "2026-01-31")
        self.assertEqual(self.penalty_invoices().mapped("amount_total"), [8.22])

    def test_fee_preview_then_run_charges_fee_once(self):
        """The first reminder's fee of 10, added after the item reached the
        stage, is previewed on 9 March, charged by the run of 9 March, and
        the preview confirmed afterwards is refused: 10 charged once."""
        invoice = self.create_invoice(100, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.stage_first.write({"fee_type": "fixed", "fee_amount": 10})
        preview = self.open_preview(invoice, "2026-03-09", "fee")
        self.assertEqual(preview.line_ids.amount, 10)
        with freeze_time("2026-03-09"):
            self.run_collection("2026-03-09")
        with self.assertRefused(UserError, "Nothing is left to charge on the selected"):
            self.book(preview, "2026-03-09")
        fees = self.env["collection.penalty"].search([("kind", "=", "fee")])
        self.assertEqual(fees.mapped("amount"), [10.0])

    def test_unreconciled_payment_made_up(self):
        """1,000 due 1 January at 10%, 600 paid 11 January. Claim of 31
        January: 10 days on 1,000 (2.7397) and 20 days on 400 (2.1918),
        4.93. The payment is then unreconciled. Claim of 28 February: owed
        from 2 January, 58 days on 1,000, 15.8904, so 15.89, less 4.93
        charged: 10.96 (February on 1,000, 7.6712, and the 20 days of
        January on 600 more, 3.2877)."""
        invoice = self.contract_invoice()
        self.pay_invoice(invoice, 600, "2026-01-11")
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 4.93)
        self.book(preview, "2026-01-31")
        self.receivable_lines(invoice).matched_credit_ids.unlink()
        self.assertEqual(invoice.amount_residual, 1000)
        preview = self.open_preview(invoice, "2026-02-28")
        self.assertEqual(preview.line_ids.amount, 10.96)
        self.assertEqual(preview.line_ids.date_from, date(2026, 2, 1))
        self.assertIn("already charged", preview.line_ids.detail)

    def test_rounded_once_per_item(self):
        """100 due 1 March at 0.25%, interest at the first reminder and the
        formal notice. Run of 8 March: 7 days, 0.0048, so 0.00, recorded so
        that the next day's run charges nothing. Run of 15 April: owed 45
        days, 100 x 0.25% x 45 / 365 = 0.0308, so 0.03, less 0.00."""
        self.policy.interest_scheme_id = self.contractual
        self.contractual.annual_rate = 0.25
        self.stage_first.charge_interest = True
        self.stage_formal.charge_interest = True
        self.create_invoice(100, "2026-03-01")
        for day in ("2026-03-08", "2026-03-09"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertEqual(self.interest_charges().mapped("amount"), [0.0])
        self.assertFalse(self.penalty_invoices())
        with freeze_time("2026-04-15"):
            self.run_collection("2026-04-15")
        self.assertEqual(self.interest_charges().mapped("amount"), [0.0, 0.03])

    def test_paid_late_claimed_by_hand(self):
        """1,000 due 1 January, paid in full 31 January, claimed 5 February:
        2 to 31 January, 30 days, 8.22, charged up to the day of payment."""
        invoice = self.contract_invoice()
        self.pay_invoice(invoice, 1000, "2026-01-31")
        preview = self.open_preview(invoice, "2026-02-05")
        self.assertEqual(preview.line_ids.amount, 8.22)
        self.assertEqual(preview.line_ids.days, 30)
        self.assertEqual(preview.line_ids.date_to, date(2026, 1, 31))
        self.book(preview, "2026-02-05")
        with self.assertRefused(UserError, "Nothing to charge on"):
            self.open_preview(invoice, "2026-02-10")

    def test_paid_on_time_refused(self):
        """An invoice paid by its due date owes no interest."""
        invoice = self.contract_invoice()
        self.pay_invoice(invoice, 1000, "2026-01-01")
        with self.assertRefused(UserError, "are paid"):
            self.open_preview(invoice, "2026-02-05")

    def test_paid_late_charged_by_run(self):
        """1,000 due 1 March at 10%, interest at the second reminder. Run of
        22 March: 21 days, 5.7534, so 5.75. Paid in full 10 April. Run of 15
        April: owed 2 March to 10 April, 40 days, 10.9589, so 10.96, less
        5.75: 5.21. Run of 15 May: nothing more."""
        self.policy.interest_scheme_id = self.contractual
        self.stage_second.charge_interest = True
        invoice = self.create_invoice(1000, "2026-03-01")
        for day in ("2026-03-08", "2026-03-22"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertEqual(self.interest_charges().mapped("amount"), [5.75])
        self.pay_invoice(invoice, 1000, "2026-04-10")
        for day in ("2026-04-15", "2026-05-15"):
            with freeze_time(day):
                self.run_collection(day)
        charges = self.interest_charges()
        self.assertEqual(charges.mapped("amount"), [5.75, 5.21])
        self.assertEqual(charges[-1].date_to, date(2026, 4, 10))

    def test_tampered_preview_recomputed(self):
        """A preview created with 0.01 up to 2099 books what is owed: 8.22
        up to 31 January."""
        invoice = self.contract_invoice()
        line = self.receivable_lines(invoice)
        preview = (
            self.env["collection.penalty.preview"]
            .with_user(self.collector)
            .create(
                {
                    "mode": "interest",
                    "date": "2099-12-31",
                    "line_ids": [
                        Command.create(
                            {
                                "kind": "interest",
                                "label": "Anything",
                                "move_line_id": line.id,
                                "currency_id": invoice.currency_id.id,
                                "amount": 0.01,
                                "date_from": "2026-01-02",
                                "date_to": "2099-12-31",
                            }
                        )
                    ],
                }
            )
        )
        self.book(preview, "2026-01-31")
        self.assertEqual(self.penalty_invoices().mapped("amount_total"), [8.22])
        self.assertEqual(line.collection_interest_date, date(2026, 1, 31))

    def test_archived_scheme_charges_nothing(self):
        """An archived scheme charges neither by hand nor in the run."""
        invoice = self.contract_invoice()
        self.contractual.active = False
        with self.assertRefused(UserError, "is archived"):
            self.open_preview(invoice, "2026-01-31")
        self.stage_first.charge_interest = True
        with freeze_time("2026-01-08"):
            self.run_collection("2026-01-08")
        self.assertFalse(self.interest_charges())

    def test_broken_plan_pauses_nothing(self):
        """Plans pause interest, but a plan accepted 10 January and broken
        10 February was not honoured: a claim of 28 February charges the 58
        days on 1,000 at 10%, 15.8904, so 15.89."""
        self.policy.interest_plan_paused = True
        self.company.collection_reduction_account_id = self.company_data[
            "default_account_expense"
        ]
        invoice = self.contract_invoice()
        with freeze_time("2026-01-10 12:00:00"):
            plan = self.env["collection.plan"].create(
                {
                    "move_line_ids": [Command.set(self.receivable_lines(invoice).ids)],
                    "instalment_count": 3,
                    "frequency": "monthly",
                    "date_first": "2026-02-01",
                }
            )
            plan.action_generate_schedule()
            plan.action_propose()
            if plan.state == "to_approve":
                plan.action_approve()
            plan.sudo().state = "sent"
            plan.acceptance_channel = "call"
            plan.action_accept()
        plan._break(date(2026, 2, 10))
        self.assertEqual(plan.state, "broken")
        preview = self.open_preview(invoice, "2026-02-28")
        self.assertEqual(preview.line_ids.amount, 15.89)

    def test_compensation_without_euro_rate(self):
        """Without a EUR rate, 40 EUR would become 40 USD: the preview is
        refused, and the run charges no compensation, logs it and gives a
        manager one activity on the invoice."""
        self.euro.rate_ids.unlink()
        self.policy.compensation_enabled = True
        invoice = self.create_invoice(500, "2026-01-01")
        with self.assertRefused(UserError, "has no rate"):
            self.open_preview(invoice, "2026-01-10", "fee")
        for day in ("2026-01-10", "2026-01-11"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertFalse(
            self.env["collection.penalty"].search([("kind", "=", "compensation")])
        )
        activities = invoice.activity_ids.filtered(
            lambda activity: "currency rate" in (activity.summary or "")
        )
        self.assertEqual(len(activities), 1)

    def test_rate_row_deletion(self):
        """Deleting the row of the second half of 2024 leaves a gap, so it is
        rejected. Deleting the last row is accepted unless its days have been
        charged."""
        rows = self.statutory.rate_ids.sorted("date_from")
        middle = rows.filtered(lambda row: row.date_from == date(2024, 7, 1))
        with self.assertRefused(ValidationError, "gap"):
            middle.unlink()
        invoice = self.create_invoice(1000, "2026-01-01")
        self.book(self.open_preview(invoice, "2026-01-31"), "2026-01-31")
        with self.assertRefused(ValidationError, "cannot be deleted"):
            rows[-1].unlink()
        self.interest_charges().sudo().scheme_id = False
        rows[-1].unlink()
        self.assertEqual(len(self.statutory.rate_ids), len(rows) - 1)

    def test_identical_rate_row_refused(self):
        """A row identical to the one of the first half of 2026 overlaps it."""
        row = self.statutory.rate_ids.sorted("date_from")[-1]
        with self.assertRefused(ValidationError, "overlap"):
            self.statutory.rate_ids = [
                Command.create(
                    {
                        "date_from": row.date_from,
                        "date_to": row.date_to,
                        "reference_rate": row.reference_rate,
                    }
                )
            ]

    def test_charged_days_keep_their_rate(self):
        """1,000 due 1 January at 10%, 600 paid 11 January. Claim of 31
        January: 10 days on 1,000 and 20 days on 400, 4.93. The contract rate
        is then raised to 20% and the payment unreconciled. Claim of 28
        February: the 30 days of January stay at 10%, now on 1,000, 8.2192,
        and the 28 days of February at 20% on 1,000, 15.3425, 23.5617 in all,
        so 23.56, less 4.93 charged: 18.63. Priced again at 20%, January would
        have cost 16.44 and the charge 26.85."""
        invoice = self.contract_invoice()
        self.pay_invoice(invoice, 600, "2026-01-11")
        self.book(self.open_preview(invoice, "2026-01-31"), "2026-01-31")
        self.assertEqual(self.interest_charges().amount, 4.93)
        self.contractual.annual_rate = 20
        self.receivable_lines(invoice).matched_credit_ids.unlink()
        preview = self.open_preview(invoice, "2026-02-28")
        self.assertEqual(preview.line_ids.amount, 18.63)
        self.assertIn("20.00%", preview.line_ids.detail)

    def test_other_scheme_prices_new_days_only(self):
        """1,000 due 1 January, charged 8.22 on 31 January at 10% actual/365.
        The policy then takes the statutory scheme (10.15%) and actual/360:
        the 28 days of February cost 1,000 x 10.15% x 28 / 360 = 7.8944, and
        with January's 8.2192 the total is 16.1136, so 16.11, less 8.22:
        7.89."""
        invoice = self.contract_invoice()
        self.book(self.open_preview(invoice, "2026-01-31"), "2026-01-31")
        charge = self.interest_charges()
        self.assertEqual(
            charge.rate_periods,
            [
                {
                    "date_from": "2026-01-02",
                    "date_to": "2026-01-31",
                    "rate": "10.0",
                    "day_count": "actual_365",
                }
            ],
        )
        self.policy.write(
            {
                "interest_scheme_id": self.statutory.id,
                "interest_day_count": "actual_360",
            }
        )
        preview = self.open_preview(invoice, "2026-02-28")
        self.assertEqual(preview.line_ids.amount, 7.89)
        self.assertEqual(preview.line_ids.date_from, date(2026, 2, 1))

    def test_paid_late_after_stage_without_interest(self):
        """1,000 due 1 March at 10%, interest at the second reminder only.
        Run of 22 March: 21 days, 5.75. The formal notice of 15 April charges
        no interest. Paid in full 20 April. Run of 25 April: owed 2 March to
        20 April, 50 days, 13.6986, so 13.70, less 5.75: 7.95, with the
        scheme of the last charge."""
        self.policy.interest_scheme_id = self.contractual
        self.stage_second.charge_interest = True
        invoice = self.create_invoice(1000, "2026-03-01")
        for day in ("2026-03-08", "2026-03-22", "2026-04-16"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertEqual(
            self.receivable_lines(invoice).collection_stage_id, self.stage_formal
        )
        self.assertEqual(self.interest_charges().mapped("amount"), [5.75])
        self.pay_invoice(invoice, 1000, "2026-04-20")
        with freeze_time("2026-04-25"):
            self.run_collection("2026-04-25")
        charges = self.interest_charges()
        self.assertEqual(charges.mapped("amount"), [5.75, 7.95])
        self.assertEqual(charges[-1].scheme_id, self.contractual)
        self.assertEqual(charges[-1].date_to, date(2026, 4, 20))

    def test_reversal_owes_no_interest(self):
        """1,000 due 1 January at 10%, 400 reversed by a credit note on 20
        January: the 400 were never owed, so the claim of 31 January charges
        30 days on 600, 4.9315, so 4.93. Reversed in full, the invoice owes
        no interest."""
        invoice = self.contract_invoice()
        self.reverse(invoice, 400, "2026-01-20")
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 4.93)

        other = self.create_invoice(1000, "2026-01-01")
        self.reverse(other, 1000, "2026-01-20")
        with self.assertRefused(UserError, "Nothing to charge on"):
            self.open_preview(other, "2026-01-31")

    def reverse(self, invoice, amount, on_date):
        credit_note = self.create_invoice(
            amount, on_date, move_type="out_refund", post=False
        )
        credit_note.reversed_entry_id = invoice
        # Odoo reconciles a posted reversal with the invoice it reverses.
        credit_note.action_post()
        self.assertTrue(self.receivable_lines(credit_note).reconciled)
        return credit_note

    def test_overcharge_reported_once(self):
        """1,000 due 1 March at 10%, interest at the second reminder: 5.75 for
        the 21 days up to 22 March. A payment of the whole 1,000 dated 12
        March is entered on 25 March: only 11 days were owed, 3.0137, so
        3.01. The run of 26 March charges nothing and gives a manager an
        activity about the 2.74 charged too much. The activity is then done,
        and the run of 27 March does not report it again."""
        self.policy.interest_scheme_id = self.contractual
        self.stage_second.charge_interest = True
        invoice = self.create_invoice(1000, "2026-03-01")
        for day in ("2026-03-08", "2026-03-22"):
            with freeze_time(day):
                self.run_collection(day)
        self.pay_invoice(invoice, 1000, "2026-03-12")
        summary = "Interest charged above what is owed"
        with freeze_time("2026-03-26"):
            self.run_collection("2026-03-26")
        activity = invoice.activity_ids.filtered(lambda act: act.summary == summary)
        self.assertEqual(len(activity), 1)
        self.assertIn("2.74", activity.note)
        self.assertEqual(self.interest_charges().mapped("amount"), [5.75, 0.0])
        activity.action_feedback()
        with freeze_time("2026-03-27"):
            self.run_collection("2026-03-27")
        self.assertFalse(
            invoice.activity_ids.filtered(lambda act: act.summary == summary)
        )
        self.assertEqual(len(self.interest_charges()), 2)

    def test_instalment_not_due_left_out(self):
        """1,000 in two instalments of 500, due 1 January and 2 March, at
        10%: the claim of 31 January charges the first, 30 days on 500,
        4.1096, so 4.11, and leaves out the second, not yet due."""
        self.policy.interest_scheme_id = self.contractual
        term = self.create_instalment_term((0, 60))
        invoice = self.create_invoice(
            1000, "2026-01-01", invoice_date="2026-01-01", payment_term=term
        )
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 4.11)
        self.assertEqual(
            preview.line_ids.move_line_id, self.receivable_lines(invoice)[0]
        )

    def test_dispute_credit_note_not_deducted_twice(self):
        """1,000 due 1 January at 10%, 400 disputed from 11 January and
        credited by the dispute's credit note on 21 January: the 400 were
        never owed, so 31 January charges 30 days on 600, 4.9315, so 4.93."""
        invoice = self.contract_invoice()
        dispute = self.open_dispute(invoice, "2026-01-11", 400)
        dispute.write({"outcome": "credit_note", "amount_settled": 400})
        with freeze_time("2026-01-21"):
            dispute.action_close()
        self.assertEqual(invoice.amount_residual, 600)
        preview = self.open_preview(invoice, "2026-01-31")
        self.assertEqual(preview.line_ids.amount, 4.93)

    def test_rate_added_after_interest_stage(self):
        """1,000 due 1 July, interest at the first reminder only, with no rate
        for July yet: the runs of 8 and 22 July charge nothing. The rate of
        the second half of 2026 (2.15 + 8) is added, the invoice paid in full
        30 July, and the run of 31 July charges 2 to 30 July, 29 days on
        1,000 at 10.15%, 8.0644, so 8.06."""
        self.stage_first.charge_interest = True
        invoice = self.create_invoice(1000, "2026-07-01")
        for day in ("2026-07-08", "2026-07-22"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertFalse(self.interest_charges().filtered("amount"))
        self.assertEqual(
            self.receivable_lines(invoice).collection_stage_id, self.stage_second
        )
        self.statutory.rate_ids = [
            Command.create(
                {
                    "date_from": "2026-07-01",
                    "date_to": "2026-12-31",
                    "reference_rate": 2.15,
                }
            )
        ]
        self.pay_invoice(invoice, 1000, "2026-07-30")
        with freeze_time("2026-07-31"):
            self.run_collection("2026-07-31")
        self.assertEqual(self.interest_charges().filtered("amount").amount, 8.06)

    def test_paid_before_interest_starts_checked_once(self):
        """Interest from day 30, paid in full on day 14: the runs after the
        payment record once that nothing is owed, not once a day."""
        self.policy.interest_start_days = 30
        self.stage_first.charge_interest = True
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.pay_invoice(invoice, 1000, "2026-03-15")
        for day in ("2026-03-16", "2026-03-17", "2026-03-18"):
            with freeze_time(day):
                self.run_collection(day)
        self.assertEqual(len(self.interest_charges()), 2)
        self.assertFalse(self.interest_charges().filtered("amount"))

    def test_missing_rates_reported_once(self):
        """Invoices due 1 and 5 July with no rate for July, interest at the
        first reminder: the runs of 8 to 14 July report the missing rate in
        one activity."""
        self.stage_first.charge_interest = True
        self.create_invoice(1000, "2026-07-01")
        self.create_invoice(500, "2026-07-05")
        for day in range(8, 15):
            run_date = f"2026-07-{day:02d}"
            with freeze_time(run_date):
                self.run_collection(run_date)
        activities = self.statutory.activity_ids.filtered(
            lambda activity: activity.summary == "Add the missing reference rate"
        )
        self.assertEqual(len(activities), 1)

    def test_penalty_invoice_kept_outside_waiver(self):
        """A collector cannot reset, cancel or reverse an interest and fee
        invoice: it is waived with a reason."""
        invoice = self.contract_invoice()
        penalty_invoice = self.book(
            self.open_preview(invoice, "2026-01-31"), "2026-01-31"
        )
        as_collector = penalty_invoice.with_user(self.collector)
        with self.assertRefused(UserError, "Waive Interest and Fees"):
            as_collector.button_draft()
        with self.assertRefused(UserError, "Waive Interest and Fees"):
            as_collector._reverse_moves()
        self.assertEqual(penalty_invoice.state, "posted")

    def test_interest_stage_needs_scheme(self):
        """A stage that charges interest under a policy without a scheme is
        refused."""
        self.policy.interest_scheme_id = False
        with self.assertRefused(ValidationError, "has an interest scheme"):
            self.stage_first.charge_interest = True

    def test_paid_interest_refunded_by_waiver(self):
        """8.22 of interest charged and paid: the waiver refunds it in full as
        a credit note left as the customer's credit, and that credit note
        cannot be reset to draft."""
        invoice = self.contract_invoice()
        penalty_invoice = self.book(
            self.open_preview(invoice, "2026-01-31"), "2026-01-31"
        )
        self.pay_invoice(penalty_invoice, 8.22, "2026-02-05")
        self.assertEqual(penalty_invoice.amount_residual, 0)
        credit_note = self.env["collection.penalty"]._waive_moves(
            penalty_invoice, "Charged by mistake"
        )
        self.assertEqual(credit_note.amount_total, 8.22)
        self.assertEqual(credit_note.amount_residual, 8.22)
        self.assertEqual(self.interest_charges().state, "waived")
        with self.assertRefused(UserError, "stays as booked"):
            credit_note.button_draft()
