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
        29 days on 1,000 and 29 days on 600 at 10.15%, 8.0644 + 4.8386 =
        12.90. Claim of 20 June: 1 March to 20 June, 112 days on 600,
        18.69. Claim of 20 July: 21 to 30 June, 10 days on 600, 1.67, since
        the table has no rate for July."""
        invoice = self.create_invoice(1000, "2026-01-01")
        self.pay_invoice(invoice, 400, "2026-01-31")

        preview = self.open_preview(invoice, "2026-02-28")
        line = preview.line_ids
        self.assertEqual(line.amount, 12.90)
        self.assertEqual(line.days, 58)
        self.assertEqual(line.date_from, date(2026, 1, 2))
        self.assertIn("29 days", line.detail)
        self.assertIn("10.15%", line.detail)
        penalty_invoice = self.book(preview, "2026-02-28")
        self.assertEqual(penalty_invoice.amount_total, 12.90)
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
        with self.assertRefused(UserError, "Nothing is left to charge"):
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
        with self.assertRefused(UserError, "Nothing is left to charge"):
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
