from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPromise(CollectionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="pia.promises",
            name="Pia Promises",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector

    def record_promise(self, invoices, amount, date_promised, on_date, user=None):
        """Record a promise over ``invoices`` on ``on_date`` through the form."""
        env = self.env(user=user) if user else self.env
        with freeze_time(on_date):
            action = (
                env["account.move"].browse(invoices.ids).action_collection_promise()
            )
            form = Form(env["collection.promise"].with_context(**action["context"]))
            form.amount = amount
            form.date_promised = date_promised
            form.channel = "call"
            return form.save()

    def messages_of(self, record):
        return record.message_ids.mapped("body")

    # ------------------------------------------------------------------
    # Kept and broken
    # ------------------------------------------------------------------

    def test_promise_closes_when_debt_paid(self):
        """Paying the whole debt closes the promise as kept before its date."""
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")
        self.assertEqual(promise.state, "open")
        self.assertEqual(promise.partner_id, self.customer)

        self.pay_invoice(invoice, 1000, "2026-03-20")
        with freeze_time("2026-03-21"):
            run = self.run_collection("2026-03-21")

        self.assertEqual(promise.state, "kept")
        self.assertEqual(promise.amount_paid, 1000)
        self.assertEqual(promise.date_closed, date(2026, 3, 21))
        self.assertEqual(run.promise_kept_count, 1)
        self.assertFalse(promise.activity_ids)
        self.assertTrue(
            any("kept" in body for body in self.messages_of(invoice)),
            "the invoice's chatter tells that the promise was kept",
        )

    def test_follow_up_done_keeps_promise_open(self):
        """Marking the follow-up activity done neither keeps nor breaks the
        promise: only the payments and the date do."""
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")

        follow_up = promise.activity_ids
        self.assertEqual(len(follow_up), 1)
        self.assertEqual(follow_up.user_id, self.collector)
        self.assertEqual(follow_up.date_deadline, date(2026, 4, 30))
        follow_up.action_feedback(feedback="Customer confirmed the date")
        self.assertEqual(promise.state, "open")

        with freeze_time("2026-03-22"):
            run = self.run_collection("2026-03-22")
        self.assertEqual(promise.state, "open")
        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        self.assertEqual(run.skip_counts, {"promise": 1})
        self.assertFalse(run.notice_ids)

    def test_broken_promise_escalates_again(self):
        """A promise for 30 April that passes unpaid is broken on 1 May.

        The collector gets an activity, and the same run escalates the invoice.
        """
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")

        with freeze_time("2026-04-30"):
            self.run_collection("2026-04-30")
        self.assertEqual(promise.state, "open")
        self.assertEqual(invoice.collection_stage_id, self.stage_first)

        with freeze_time("2026-05-01"):
            run = self.run_collection("2026-05-01")

        self.assertEqual(promise.state, "broken")
        self.assertEqual(promise.amount_paid, 0)
        self.assertEqual(run.promise_broken_count, 1)
        activity = promise.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.collector)
        self.assertEqual(activity.date_deadline, date(2026, 5, 1))
        self.assertTrue(any("broken" in body for body in self.messages_of(promise)))
        self.assertTrue(any("broken" in body for body in self.messages_of(invoice)))
        # 61 days late: the shipped policy jumps to the formal notice (45 days)
        # and records the second reminder as skipped.
        self.assertEqual(invoice.collection_stage_id, self.stage_formal)
        self.assertEqual(run.notice_ids.stage_id, self.stage_formal)
        states = {
            history.stage_id: history.state
            for history in invoice.collection_history_ids
        }
        self.assertEqual(states[self.stage_second], "skipped")
        self.assertEqual(states[self.stage_formal], "done")

    def test_broken_promise_climbs_one_stage(self):
        """With the climb rule the broken promise resumes at the next stage."""
        self.policy.catchup_rule = "climb"
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")

        with freeze_time("2026-05-01"):
            self.run_collection("2026-05-01")

        self.assertEqual(invoice.collection_stage_id, self.stage_second)

    def test_promise_kept_by_amount(self):
        """Paying the promised part by the date keeps the promise; the rest of
        the debt is chased again."""
        invoice = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        promise = self.record_promise(invoice, 400, "2026-04-15", "2026-03-10")
        self.pay_invoice(invoice, 400, "2026-04-10")

        with freeze_time("2026-04-16"):
            run = self.run_collection("2026-04-16")

        self.assertEqual(promise.state, "kept")
        self.assertEqual(promise.amount_paid, 400)
        self.assertEqual(run.promise_kept_count, 1)
        # 46 days late: the formal notice (45 days) requests the 600 left.
        self.assertEqual(invoice.collection_stage_id, self.stage_formal)
        self.assertEqual(run.notice_ids.line_ids.amount_residual, 600)

    def test_partially_kept_promise_is_broken(self):
        """300 paid of 600 promised breaks the promise and records the 300."""
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 600, "2026-04-15", "2026-03-10")
        self.pay_invoice(invoice, 300, "2026-04-01")

        with freeze_time("2026-04-16"):
            self.run_collection("2026-04-16")

        self.assertEqual(promise.state, "broken")
        self.assertEqual(promise.amount_paid, 300)
        self.assertEqual(promise.amount_residual, 700)

    def test_payment_before_promise_does_not_count(self):
        """A payment dated before the promise was recorded does not keep it."""
        invoice = self.create_invoice(1000, "2026-03-01")
        self.pay_invoice(invoice, 200, "2026-03-05")
        promise = self.record_promise(invoice, 200, "2026-04-15", "2026-03-10")

        with freeze_time("2026-04-16"):
            self.run_collection("2026-04-16")

        self.assertEqual(promise.state, "broken")
        self.assertEqual(promise.amount_paid, 0)

    def test_grace_days_delay_break(self):
        """The policy's grace days are added to the promised date."""
        self.policy.grace_days = 5
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")

        with freeze_time("2026-05-05"):
            self.run_collection("2026-05-05")
        self.assertEqual(promise.state, "open")

        with freeze_time("2026-05-06"):
            self.run_collection("2026-05-06")
        self.assertEqual(promise.state, "broken")

    def test_other_invoices_still_chased(self):
        """Only the items a promise covers are paused."""
        promised = self.create_invoice(1000, "2026-03-01")
        other = self.create_invoice(500, "2026-03-01")
        self.record_promise(promised, 1000, "2026-04-30", "2026-03-02")

        with freeze_time("2026-03-08"):
            run = self.run_collection("2026-03-08")

        self.assertFalse(promised.collection_stage_id)
        self.assertEqual(other.collection_stage_id, self.stage_first)
        self.assertEqual(run.notice_ids.line_ids.move_id, other)

    def test_notice_leaves_out_promised_items(self):
        """A notice for another invoice does not ask for the promised one."""
        promised = self.create_invoice(1000, "2026-03-01")
        with freeze_time("2026-03-08"):
            self.run_collection("2026-03-08")
        self.record_promise(promised, 1000, "2026-05-30", "2026-03-10")
        other = self.create_invoice(500, "2026-03-10")

        with freeze_time("2026-03-17"):
            run = self.run_collection("2026-03-17")

        self.assertEqual(other.collection_stage_id, self.stage_first)
        self.assertEqual(run.notice_ids.line_ids.move_id, other)

    def test_cancel_promise(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")
        with freeze_time("2026-03-11"):
            promise.action_cancel()
        self.assertEqual(promise.state, "cancelled")
        self.assertFalse(promise.activity_ids)
        with self.assertRaises(UserError):
            promise.action_cancel()
        with self.assertRaises(UserError):
            promise.amount = 10

    def test_credit_note_cancels_promise(self):
        """An invoice cancelled by a credit note does not keep the promise."""
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")
        with freeze_time("2026-03-12"):
            invoice._reverse_moves(cancel=True)
            run = self.run_collection("2026-03-12")

        self.assertEqual(promise.state, "cancelled")
        self.assertEqual(promise.amount_paid, 0)
        self.assertEqual(run.promise_kept_count, 0)
        self.assertEqual(self.customer.collection_promise_kept_rate, 0)

    def test_collector_cannot_set_outcome(self):
        """State, dates and amounts paid change only by the promise's steps."""
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(
            invoice, 500, "2026-04-30", "2026-03-10", user=self.collector
        )
        for values in (
            {"state": "kept"},
            {"kept_percent": 100},
            {"date": "2026-01-01"},
            {"amount_paid": 500},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                promise.with_user(self.collector).write(values)
        self.assertEqual(promise.state, "open")

    # ------------------------------------------------------------------
    # Entry points, counters and rates
    # ------------------------------------------------------------------

    def test_promise_from_customer(self):
        """From the customer, the promise covers the overdue items."""
        overdue = self.create_invoice(300, "2026-03-01")
        self.create_invoice(200, "2026-05-01")
        with freeze_time("2026-03-10"):
            action = self.customer.action_collection_promise()
        context = action["context"]
        self.assertEqual(context["default_amount"], 300)
        self.assertEqual(
            context["default_move_line_ids"],
            [Command.set(self.receivable_lines(overdue).ids)],
        )

    def test_customer_promise_skips_promised_items(self):
        """From the customer, items under an open promise are left out."""
        promised = self.create_invoice(1000, "2026-03-01")
        free = self.create_invoice(500, "2026-03-05")
        self.record_promise(promised, 1000, "2026-04-30", "2026-03-10")
        with freeze_time("2026-03-11"):
            action = self.customer.action_collection_promise()
        self.assertEqual(
            action["context"]["default_move_line_ids"],
            [Command.set(self.receivable_lines(free).ids)],
        )

    def test_counters_and_kept_rate(self):
        first = self.create_invoice(1000, "2026-03-01")
        second = self.create_invoice(500, "2026-03-01")
        kept = self.record_promise(first, 100, "2026-04-15", "2026-03-10")
        broken = self.record_promise(second, 100, "2026-04-15", "2026-03-10")
        self.pay_invoice(first, 100, "2026-04-01")
        with freeze_time("2026-04-16"):
            self.run_collection("2026-04-16")

        self.assertEqual(kept.state, "kept")
        self.assertEqual(broken.state, "broken")
        self.assertEqual(first.collection_promise_count, 1)
        self.assertEqual(self.customer.collection_promise_count, 2)
        self.assertEqual(self.customer.collection_promise_kept_rate, 50.0)
        groups = self.env["collection.promise"].read_group(
            [("state", "in", ("kept", "broken"))],
            ["kept_percent:avg"],
            ["user_id"],
        )
        self.assertEqual(len(groups), 1)
        self.assertEqual(groups[0]["user_id"][0], self.collector.id)
        self.assertEqual(groups[0]["kept_percent"], 50.0)

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------

    def test_rejects_zero_or_negative_amount(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        for amount in (0, -50):
            with self.subTest(amount=amount), self.assertRaises(ValidationError):
                self.record_promise(invoice, amount, "2026-04-30", "2026-03-10")

    def test_rejects_past_date(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        with self.assertRaises(ValidationError):
            self.record_promise(invoice, 1000, "2026-03-09", "2026-03-10")

    def test_rejects_amount_above_debt(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        with self.assertRaises(ValidationError):
            self.record_promise(invoice, 1000.01, "2026-04-30", "2026-03-10")

    def test_rejects_paid_invoice(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        self.pay_invoice(invoice, 1000, "2026-03-05")
        with self.assertRaises(UserError):
            self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")

    def test_rejects_several_customers(self):
        other_customer = self.env["res.partner"].create({"name": "Other Debtor"})
        invoices = self.create_invoice(1000, "2026-03-01") | self.create_invoice(
            500, "2026-03-01", partner=other_customer
        )
        with self.assertRaises(UserError) as caught:
            self.record_promise(invoices, 100, "2026-04-30", "2026-03-10")
        self.assertIn("several customers", str(caught.exception))

    def test_rejects_items_of_open_promise(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        self.record_promise(invoice, 500, "2026-04-30", "2026-03-10")
        with self.assertRaises(UserError) as caught:
            self.record_promise(invoice, 500, "2026-05-30", "2026-03-11")
        self.assertIn("already covered", str(caught.exception))

    def test_rejects_vendor_bill(self):
        bill = self.init_invoice("in_invoice", amounts=[100], post=True)
        with self.assertRaises(UserError):
            bill.action_collection_promise()

    # ------------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------------

    def test_collector_records_and_cancels(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(
            invoice, 1000, "2026-04-30", "2026-03-10", user=self.collector
        )
        self.assertEqual(promise.create_uid, self.collector)
        self.assertEqual(promise.user_id, self.collector)
        with freeze_time("2026-03-11"):
            promise.with_user(self.collector).action_cancel()
        self.assertEqual(promise.state, "cancelled")

    def test_legal_reads_only(self):
        legal = new_test_user(
            self.env,
            login="lea.legal",
            groups="base.group_user,fast_collections.group_collection_legal",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        invoice = self.create_invoice(1000, "2026-03-01")
        promise = self.record_promise(invoice, 1000, "2026-04-30", "2026-03-10")
        # A Legal user reads the promises of the customers of their cases only.
        with self.assertRaises(AccessError):
            promise.with_user(legal).read(["amount"])
        self.env["collection.legal.case"].create(
            {
                "origin": "stage",
                "partner_id": self.customer.id,
                "user_id": legal.id,
                "date_deadline": "2026-04-30",
            }
        )
        (values,) = promise.with_user(legal).read(["amount"])
        self.assertEqual(values["amount"], 1000)
        other_invoice = self.create_invoice(500, "2026-03-01")
        with self.assertRaises(AccessError):
            self.record_promise(
                other_invoice, 500, "2026-04-30", "2026-03-10", user=legal
            )
