from contextlib import contextmanager
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from ..models.collection_dispute import days_in_dispute
from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestDispute(CollectionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="dora.disputes",
            name="Dora Disputes",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.legal = new_test_user(
            cls.env,
            login="lou.legal",
            name="Lou Legal",
            groups="base.group_user,fast_collections.group_collection_legal",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector
        cls.reason = cls.env.ref("fast_collections.dispute_reason_defective")

    def open_dispute(
        self, invoices, on_date, amounts=None, deadline=None, user=None, reason=None
    ):
        """Open a dispute over ``invoices`` on ``on_date`` through the form.

        ``amounts`` gives the disputed amount of each invoice, in order. By
        default each invoice is disputed for its whole residual.
        """
        env = self.env(user=user) if user else self.env
        with freeze_time(on_date):
            action = (
                env["account.move"].browse(invoices.ids).action_collection_dispute()
            )
            form = Form(env["collection.dispute"].with_context(**action["context"]))
            form.reason_id = reason or self.reason
            for index, amount in enumerate(amounts or ()):
                with form.line_ids.edit(index) as line:
                    line.amount_disputed = amount
            if deadline:
                form.date_deadline = deadline
            return form.save()

    def stage_of(self, invoice):
        return invoice.collection_stage_id

    @contextmanager
    def assertRefused(self, exception, text):
        """Assert that the block raises ``exception`` with ``text`` in its
        message. Unlike assertRaisesRegex, Odoo's assertRaises rolls back to a
        savepoint, so the refused change leaves nothing behind."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertIn(text, str(caught.exception))

    # ------------------------------------------------------------------
    # Whole invoice disputed among others (B of A, B and C)
    # ------------------------------------------------------------------

    def create_c14_invoices(self):
        """Create A of 1,000 and B of 2,000 due 1 March, and C of 500 due 10
        March. The run of 8 March puts A and B at the first reminder."""
        invoice_a = self.create_invoice(1000, "2026-03-01")
        invoice_b = self.create_invoice(2000, "2026-03-01")
        invoice_c = self.create_invoice(500, "2026-03-10")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.assertEqual(self.stage_of(invoice_a), self.stage_first)
        self.assertEqual(self.stage_of(invoice_b), self.stage_first)
        return invoice_a, invoice_b, invoice_c

    def test_disputed_invoice_left_out_of_runs(self):
        """B, disputed from 10 March to 31 May, stays at the first reminder
        while A and C escalate. The notice requests A and C only."""
        invoice_a, invoice_b, invoice_c = self.create_c14_invoices()
        dispute = self.open_dispute(invoice_b, "2026-03-10", deadline="2026-05-31")
        self.assertEqual(dispute.state, "open")
        self.assertEqual(dispute.amount_disputed, 2000)
        self.assertEqual(dispute.date_deadline, date(2026, 5, 31))

        with freeze_time("2026-03-22"):
            run = self.run_collection("2026-03-22")

        self.assertEqual(self.stage_of(invoice_a), self.stage_second)
        self.assertEqual(self.stage_of(invoice_b), self.stage_first)
        self.assertEqual(self.stage_of(invoice_c), self.stage_first)
        self.assertEqual(run.skip_counts, {"dispute": 1})
        self.assertIn("disputed for its whole amount", run.skip_summary)
        self.assertNotIn(invoice_b, run.history_ids.move_id)

        notice = run.notice_ids
        self.assertEqual(len(notice), 1)
        lines = {line.move_id: line for line in notice.line_ids}
        self.assertEqual(lines[invoice_a].amount_asked, 1000)
        self.assertEqual(lines[invoice_c].amount_asked, 500)
        self.assertEqual(lines[invoice_b].amount_disputed, 2000)
        self.assertEqual(lines[invoice_b].amount_asked, 0)
        (total,) = notice._get_currency_totals()
        self.assertEqual(total["overdue"], 1500)
        self.assertEqual(total["disputed"], 2000)
        self.assertEqual(total["net"], 1500)
        body = notice.message_ids.filtered("subject")[:1].body
        self.assertIn("Disputed", body)

        with freeze_time("2026-04-15"):
            run = self.run_collection("2026-04-15")
        self.assertEqual(self.stage_of(invoice_a), self.stage_formal)
        self.assertEqual(self.stage_of(invoice_b), self.stage_first)
        self.assertEqual(self.stage_of(invoice_c), self.stage_second)
        self.assertNotIn(invoice_b, run.history_ids.move_id)

    def test_rejected_dispute_resumes_collection(self):
        """Rejected on 31 May, B is 92 days late on 1 June and jumps to the
        hand-over to legal (75 days), with the stages in between skipped."""
        __, invoice_b, __ = self.create_c14_invoices()
        dispute = self.open_dispute(invoice_b, "2026-03-10", deadline="2026-05-31")
        with freeze_time("2026-03-22"):
            self.run_collection("2026-03-22")

        with freeze_time("2026-05-31"):
            dispute.action_reject()
        self.assertEqual(dispute.state, "closed")
        self.assertEqual(dispute.outcome, "rejected")
        self.assertEqual(dispute.date_closed, date(2026, 5, 31))
        self.assertFalse(dispute.activity_ids)
        # 10 March to 31 May, all after the due date.
        self.assertEqual(dispute.line_ids.days_paused, 82)
        self.assertEqual(self.receivable_lines(invoice_b).collection_days_paused, 82)
        self.assertTrue(
            any("rejected" in body for body in invoice_b.message_ids.mapped("body"))
        )

        with freeze_time("2026-06-01"):
            run = self.run_collection("2026-06-01")

        self.assertEqual(self.stage_of(invoice_b), self.stage_legal)
        states = {
            history.stage_id: history.state
            for history in invoice_b.collection_history_ids
        }
        self.assertEqual(states[self.stage_second], "skipped")
        self.assertEqual(states[self.stage_formal], "skipped")
        self.assertEqual(states[self.stage_legal], "done")
        lines = {line.move_id: line for line in run.notice_ids.line_ids}
        self.assertEqual(lines[invoice_b].amount_asked, 2000)
        self.assertFalse(lines[invoice_b].amount_disputed)

    def test_days_in_dispute_not_counted(self):
        """With the policy not counting days in dispute, B's 82 days in
        dispute are taken off its delay. On 1 June it counts 10 days and stays
        at the first reminder. On 12 June it counts 21 days and reaches the
        second reminder."""
        self.policy.dispute_days_excluded = True
        __, invoice_b, __ = self.create_c14_invoices()
        dispute = self.open_dispute(invoice_b, "2026-03-10", deadline="2026-05-31")
        with freeze_time("2026-05-31"):
            dispute.action_reject()

        with freeze_time("2026-06-01"):
            run = self.run_collection("2026-06-01")
        self.assertEqual(self.stage_of(invoice_b), self.stage_first)
        self.assertNotIn(invoice_b, run.history_ids.move_id)

        with freeze_time("2026-06-12"):
            run = self.run_collection("2026-06-12")
        self.assertEqual(self.stage_of(invoice_b), self.stage_second)
        history = run.history_ids.filtered(lambda row: row.move_id == invoice_b)
        self.assertEqual(history.days_overdue, 21)

    def test_cancelled_dispute_counts_days(self):
        """A dispute cancelled as opened by mistake records no paused days."""
        self.policy.dispute_days_excluded = True
        __, invoice_b, __ = self.create_c14_invoices()
        dispute = self.open_dispute(invoice_b, "2026-03-10")
        with freeze_time("2026-03-20"):
            dispute.action_cancel()
        self.assertEqual(dispute.state, "cancelled")
        self.assertFalse(self.receivable_lines(invoice_b).collection_days_paused)
        self.assertTrue(
            any("cancelled" in body for body in invoice_b.message_ids.mapped("body"))
        )

        with freeze_time("2026-03-22"):
            self.run_collection("2026-03-22")
        self.assertEqual(self.stage_of(invoice_b), self.stage_second)

    def test_days_in_dispute_after_due_date(self):
        self.assertEqual(
            days_in_dispute(date(2026, 3, 10), date(2026, 5, 31), date(2026, 3, 1)),
            82,
        )
        # Opened 10 days before the due date: only the 20 days after it count.
        self.assertEqual(
            days_in_dispute(date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 11)),
            20,
        )
        self.assertEqual(
            days_in_dispute(date(2026, 3, 1), date(2026, 3, 5), date(2026, 3, 11)),
            0,
        )

    # ------------------------------------------------------------------
    # Part of an invoice disputed
    # ------------------------------------------------------------------

    def test_partial_dispute_chases_rest(self):
        """400 of an invoice of 1,000 disputed: the invoice keeps escalating
        and the notice requests 600, with 400 shown as disputed."""
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        dispute = self.open_dispute(invoice, "2026-03-10", amounts=[400])
        self.assertEqual(dispute.amount_disputed, 400)

        with freeze_time("2026-03-22"):
            run = self.run_collection("2026-03-22")

        self.assertEqual(self.stage_of(invoice), self.stage_second)
        self.assertFalse(run.skip_counts)
        line = run.notice_ids.line_ids
        self.assertEqual(line.amount_residual, 1000)
        self.assertEqual(line.amount_disputed, 400)
        self.assertEqual(line.amount_asked, 600)
        (total,) = run.notice_ids._get_currency_totals()
        self.assertEqual(total["overdue"], 600)
        self.assertEqual(total["disputed"], 400)
        self.assertEqual(total["net"], 600)

    def test_partial_dispute_rest_below_tolerance(self):
        """The tolerance is compared with the undisputed rest: 600 left of
        1,000 is below a tolerance of 700, so the invoice is not chased."""
        self.policy.tolerance_amount = 700
        invoice = self.create_invoice(1000, "2026-03-01")
        self.open_dispute(invoice, "2026-03-02", amounts=[400])

        with freeze_time("2026-03-08"):
            run = self.run_collection("2026-03-08")

        self.assertFalse(self.stage_of(invoice))
        self.assertEqual(run.skip_counts, {"below_tolerance": 1})

    def test_partial_dispute_days_still_count(self):
        """Rejecting a dispute over part of an invoice records no paused days,
        because the rest was chased meanwhile."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10", amounts=[400])
        with freeze_time("2026-04-10"):
            dispute.action_reject()
        self.assertFalse(dispute.line_ids.days_paused)
        self.assertFalse(self.receivable_lines(invoice).collection_days_paused)

    def test_two_partial_disputes_pause_item(self):
        """Two open disputes of 600 and 400 on one invoice of 1,000 cover it
        in full, so the run skips it."""
        invoice = self.create_invoice(1000, "2026-03-01")
        self.open_dispute(invoice, "2026-03-02", amounts=[600])
        second = self.open_dispute(invoice, "2026-03-03")
        self.assertEqual(second.amount_disputed, 400, "the rest is proposed")

        with freeze_time("2026-03-08"):
            run = self.run_collection("2026-03-08")
        self.assertFalse(self.stage_of(invoice))
        self.assertEqual(run.skip_counts, {"dispute": 1})

    # ------------------------------------------------------------------
    # Counters and entry points
    # ------------------------------------------------------------------

    def test_counters_and_deadline(self):
        """The deadline is the opening date plus the reason's days, and the
        collector gets an activity on that date."""
        invoice = self.create_invoice(1000, "2026-03-01")
        other = self.create_invoice(500, "2026-03-01")
        dispute = self.open_dispute(invoice | other, "2026-03-10")

        self.assertEqual(dispute.partner_id, self.customer)
        self.assertEqual(dispute.amount_disputed, 1500)
        self.assertEqual(dispute.date_deadline, date(2026, 4, 9))
        self.assertEqual(dispute.user_id, self.collector)
        self.assertEqual(dispute.activity_ids.date_deadline, date(2026, 4, 9))
        self.assertEqual(dispute.move_ids, invoice | other)
        self.assertEqual(invoice.collection_dispute_count, 1)
        self.assertEqual(self.customer.collection_dispute_count, 1)
        self.assertTrue(
            any("opened" in body for body in invoice.message_ids.mapped("body"))
        )
        action = invoice.action_view_collection_disputes()
        self.assertEqual(
            self.env["collection.dispute"].search(action["domain"]), dispute
        )

    def test_shipped_reasons(self):
        reasons = self.env["collection.dispute.reason"].search([])
        self.assertEqual(
            reasons.mapped("name"),
            [
                "Goods not received",
                "Defective goods",
                "Price disagreement",
                "Not ordered",
                "Duplicate invoice",
                "Already paid",
            ],
        )
        self.assertTrue(all(reason.resolution_days > 0 for reason in reasons))

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------

    def test_rejects_amount_above_residual(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        with self.assertRefused(ValidationError, "more than"):
            self.open_dispute(invoice, "2026-03-10", amounts=[1000.01])

    def test_rejects_zero_or_negative_amount(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        for amount in (0, -50):
            with (
                self.subTest(amount=amount),
                self.assertRefused(ValidationError, "greater than zero"),
            ):
                self.open_dispute(invoice, "2026-03-10", amounts=[amount])

    def test_rejects_paid_invoice(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        self.pay_invoice(invoice, 1000, "2026-03-05")
        with self.assertRefused(UserError, "already paid"):
            self.open_dispute(invoice, "2026-03-10")

    def test_rejects_cancelled_invoice(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        invoice.button_draft()
        invoice.button_cancel()
        with self.assertRefused(UserError, "not posted"):
            self.open_dispute(invoice, "2026-03-10")

    def test_rejects_cancelled_item_on_create(self):
        """An item of a cancelled invoice is refused when written directly."""
        invoice = self.create_invoice(1000, "2026-03-01")
        item = self.receivable_lines(invoice)
        invoice.button_draft()
        invoice.button_cancel()
        with self.assertRefused(UserError, "cancelled"):
            self.env["collection.dispute"].create(
                {
                    "reason_id": self.reason.id,
                    "line_ids": [
                        Command.create(
                            {"move_line_id": item.id, "amount_disputed": 100}
                        )
                    ],
                }
            )

    def test_rejects_vendor_bill(self):
        bill = self.init_invoice("in_invoice", amounts=[100], post=True)
        with self.assertRefused(UserError, "not a customer invoice"):
            bill.action_collection_dispute()

    def test_rejects_second_dispute_above_residual(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        self.open_dispute(invoice, "2026-03-10", amounts=[600])
        with self.assertRefused(ValidationError, "already disputed"):
            self.open_dispute(invoice, "2026-03-11", amounts=[500])
        second = self.open_dispute(invoice, "2026-03-11", amounts=[400])
        self.assertEqual(second.amount_disputed, 400)
        with self.assertRefused(UserError, "whole amount"):
            invoice.action_collection_dispute()

    def test_rejects_several_customers(self):
        other_customer = self.env["res.partner"].create({"name": "Other Debtor"})
        invoices = self.create_invoice(1000, "2026-03-01") | self.create_invoice(
            500, "2026-03-01", partner=other_customer
        )
        with self.assertRefused(UserError, "several customers"):
            invoices.action_collection_dispute()

    def test_rejects_several_companies(self):
        company_b = self.setup_other_company(name="Company B")["company"]
        self.env.user.company_ids |= company_b
        invoices = self.create_invoice(1000, "2026-03-01") | self.create_invoice(
            500, "2026-03-01", company=company_b
        )
        with self.assertRefused(UserError, "several companies"):
            invoices.action_collection_dispute()

    def test_disputed_invoice_not_in_plan(self):
        """A plan over an invoice in dispute, even in part, is refused."""
        invoice = self.create_invoice(1000, "2026-03-01")
        self.open_dispute(invoice, "2026-03-10", amounts=[400])
        with freeze_time("2026-03-11"), self.assertRaises(UserError) as caught:
            invoice.action_collection_plan()
        self.assertIn("in dispute", str(caught.exception))

    def test_promise_on_undisputed_part_only(self):
        """A promise may cover an item disputed in part, not one disputed in
        full."""
        partly = self.create_invoice(1000, "2026-03-01")
        fully = self.create_invoice(500, "2026-03-01")
        self.open_dispute(partly, "2026-03-10", amounts=[400])
        self.open_dispute(fully, "2026-03-10")
        with freeze_time("2026-03-11"):
            action = partly.action_collection_promise()
        self.assertEqual(action["res_model"], "collection.promise")
        with freeze_time("2026-03-11"), self.assertRaises(UserError) as caught:
            fully.action_collection_promise()
        self.assertIn("in dispute", str(caught.exception))

    def test_rejects_closing_without_outcome(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        with self.assertRefused(UserError, "Choose the outcome"):
            dispute.action_close()
        with self.assertRefused(ValidationError, "without an outcome"):
            dispute.sudo().write({"state": "closed"})
        self.assertEqual(dispute.state, "open")

    def test_rejects_closing_twice(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        dispute.action_reject()
        with self.assertRefused(UserError, "already closed"):
            dispute.action_reject()
        with self.assertRefused(UserError, "already closed"):
            dispute.action_cancel()
        with self.assertRaises(UserError):
            dispute.line_ids.amount_disputed = 10

    def test_rejects_reason_without_days(self):
        with self.assertRefused(ValidationError, "at least 1"):
            self.env["collection.dispute.reason"].create(
                {"name": "Wrong quantity", "resolution_days": 0}
            )

    # ------------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------------

    def test_collector_opens_and_rejects(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10", user=self.collector)
        self.assertEqual(dispute.create_uid, self.collector)
        with freeze_time("2026-03-20"):
            dispute.with_user(self.collector).action_reject()
        self.assertEqual(dispute.state, "closed")
        with self.assertRaises(AccessError):
            self.reason.with_user(self.collector).resolution_days = 10

    def test_legal_reads_and_works_disputes(self):
        """The lawyer of the dispute's legal case reads and works it."""
        reason_legal = self.env["collection.dispute.reason"].create(
            {"name": "Fraud suspected", "resolution_days": 20, "to_legal": True}
        )
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10", reason=reason_legal)
        self.assertEqual(dispute.legal_case_ids.user_id, self.legal)
        as_legal = dispute.with_user(self.legal)
        self.assertEqual(as_legal.amount_disputed, 1000)
        self.assertEqual(as_legal.reason_id.name, "Fraud suspected")
        as_legal.resolution_note = "Delivery note signed by the customer."
        self.assertEqual(
            dispute.resolution_note, "Delivery note signed by the customer."
        )
        with self.assertRaises(AccessError):
            self.open_dispute(
                self.create_invoice(500, "2026-03-01"), "2026-03-10", user=self.legal
            )
        with self.assertRaises(AccessError):
            self.reason.with_user(self.legal).resolution_days = 10

    def test_user_without_collection_group_cannot_read(self):
        accountant = new_test_user(
            self.env,
            login="ann.accounts",
            groups="base.group_user,account.group_account_invoice",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        with self.assertRaises(AccessError):
            dispute.with_user(accountant).read(["amount_disputed"])

    # ------------------------------------------------------------------
    # Amounts paid or split during a dispute
    # ------------------------------------------------------------------

    def test_notice_caps_disputed_at_owed(self):
        """A of 1,000 disputed for 600, then 700 paid: the notice shows A
        disputed for the 300 still owed, requests nothing for it and
        requests 500 for C."""
        invoice_a = self.create_invoice(1000, "2026-03-01")
        invoice_c = self.create_invoice(500, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.open_dispute(invoice_a, "2026-03-09", amounts=[600])
        self.pay_invoice(invoice_a, 700, "2026-03-10")

        with freeze_time("2026-03-22"):
            run = self.run_collection("2026-03-22")

        lines = {line.move_id: line for line in run.notice_ids.line_ids}
        self.assertEqual(lines[invoice_a].amount_disputed, 300)
        self.assertEqual(lines[invoice_a].amount_asked, 0)
        self.assertEqual(lines[invoice_c].amount_asked, 500)
        (total,) = run.notice_ids._get_currency_totals()
        self.assertEqual(total["disputed"], 300)
        self.assertEqual(total["net"], 500)

    def test_two_half_disputes_record_days(self):
        """Two disputes of 500 on an invoice of 1,000, both rejected on 31
        May: the 82 days the invoice was disputed in full are recorded once."""
        self.policy.dispute_days_excluded = True
        invoice = self.create_invoice(1000, "2026-03-01")
        first = self.open_dispute(invoice, "2026-03-10", amounts=[500])
        second = self.open_dispute(invoice, "2026-03-10", amounts=[500])
        with freeze_time("2026-05-31"):
            first.action_reject()
            second.action_reject()
        self.assertEqual(first.line_ids.days_paused, 82)
        self.assertFalse(second.line_ids.days_paused)
        self.assertEqual(self.receivable_lines(invoice).collection_days_paused, 82)

    def test_disputed_invoice_not_reset(self):
        """An invoice under an open dispute cannot be reset to draft or
        cancelled; once the dispute is cancelled it can."""
        invoice = self.create_invoice(300, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        with self.assertRefused(UserError, "open dispute"):
            invoice.button_draft()
        with self.assertRefused(UserError, "open dispute"):
            invoice.button_cancel()
        self.assertEqual(invoice.state, "posted")
        dispute.action_cancel()
        invoice.button_draft()
        self.assertEqual(invoice.state, "draft")
