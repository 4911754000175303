from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import BaseCase, Form, new_test_user, tagged
from odoo.tools import html2plaintext, mute_logger

from ..rules.payment_plan import (
    allocate_paid,
    build_schedule,
    instalment_dates,
    split_amount,
)
from .common import CollectionCommon

# Loggers that record an access refused by an access right or a record rule.
ACCESS_LOGGERS = (
    "odoo.addons.base.models.ir_model",
    "odoo.addons.base.models.ir_rule",
    "odoo.models",
)


@tagged("post_install", "-at_install")
class TestPaymentPlanRules(BaseCase):
    def test_split_rounding_on_last(self):
        """1,000 in three instalments gives 333.33, 333.33 and 333.34."""
        self.assertEqual(split_amount(1000.0, 3, 0.01), [333.33, 333.33, 333.34])

    def test_split_rounding_down_on_last(self):
        """100 in six instalments gives five of 16.67 and a last of 16.65."""
        amounts = split_amount(100.0, 6, 0.01)
        self.assertEqual(amounts[:5], [16.67] * 5)
        self.assertEqual(amounts[5], 16.65)
        self.assertEqual(round(sum(amounts), 2), 100.0)

    def test_split_rejects_zero_count(self):
        """A split into zero instalments raises a ValueError."""
        with self.assertRaises(ValueError):
            split_amount(100.0, 0, 0.01)

    def test_monthly_dates_keep_day(self):
        """Monthly dates from 31 January fall on the last day of short months."""
        self.assertEqual(
            instalment_dates(date(2024, 1, 31), 3, "monthly"),
            [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)],
        )

    def test_dates_by_frequency(self):
        """Weekly, biweekly and quarterly dates step by 7, 14 days and 3 months."""
        first = date(2024, 4, 1)
        self.assertEqual(
            instalment_dates(first, 3, "weekly"),
            [date(2024, 4, 1), date(2024, 4, 8), date(2024, 4, 15)],
        )
        self.assertEqual(
            instalment_dates(first, 3, "biweekly"),
            [date(2024, 4, 1), date(2024, 4, 15), date(2024, 4, 29)],
        )
        self.assertEqual(
            instalment_dates(first, 3, "quarterly"),
            [date(2024, 4, 1), date(2024, 7, 1), date(2024, 10, 1)],
        )

    def test_schedule_with_down_payment(self):
        """1,000 with 100 down and three instalments: 100, 300, 300, 300."""
        schedule = build_schedule(
            total=1000.0,
            down_payment=100.0,
            count=3,
            frequency="monthly",
            first_date=date(2024, 4, 1),
            down_payment_date=date(2024, 3, 15),
            rounding=0.01,
        )
        self.assertEqual(
            [(line.date, line.amount, line.is_down_payment) for line in schedule],
            [
                (date(2024, 3, 15), 100.0, True),
                (date(2024, 4, 1), 300.0, False),
                (date(2024, 5, 1), 300.0, False),
                (date(2024, 6, 1), 300.0, False),
            ],
        )

    def test_paid_fills_in_order(self):
        """500 paid on three instalments of 300 fills the first, then 200."""
        self.assertEqual(
            allocate_paid([300.0, 300.0, 300.0], 500.0, 0.01), [300.0, 200.0, 0.0]
        )


@tagged("post_install", "-at_install")
class TestPaymentPlan(CollectionCommon):
    """Payment plans of Acme Debtor, proposed on 1 February 2024.

    The company lets a plan run without approval up to 6 instalments and
    12 months. Reductions are booked on the expense account.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reduction_account = cls.company_data["default_account_expense"]
        cls.company.write(
            {
                "collection_reduction_account_id": cls.reduction_account.id,
                "collection_plan_max_instalments": 6,
                "collection_plan_max_months": 12,
            }
        )
        cls.collector = new_test_user(
            cls.env,
            login="carla.collector",
            name="Carla Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.manager = new_test_user(
            cls.env,
            login="mona.manager",
            name="Mona Manager",
            groups="base.group_user,fast_collections.group_collection_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector
        cls.plan_model = cls.env["collection.plan"]

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def create_plan(self, invoices, user=None, generate=True, **terms):
        """Create a plan over ``invoices`` as ``user`` (the collector by default)
        and generate its schedule."""
        user = user or self.collector
        lines = self.env["account.move.line"]
        for invoice in invoices:
            lines |= self.receivable_lines(invoice)
        values = {
            "move_line_ids": [Command.set(lines.ids)],
            "instalment_count": 3,
            "frequency": "monthly",
            "date_first": "2024-03-01",
        }
        values.update(terms)
        plan = self.plan_model.with_user(user).create(values)
        if generate:
            plan.action_generate_schedule()
        return plan

    def send_plan(self, plan, user=None):
        """Send ``plan`` through the email composer, as ``user``."""
        action = plan.with_user(user or self.collector).action_send()
        composer_model = (
            self.env["mail.compose.message"]
            .with_user(user or self.collector)
            .with_context(**action["context"])
        )
        composer = Form(composer_model)
        composer.save().action_send_mail()

    def activate_plan(self, plan):
        """Propose, approve if needed, send and accept ``plan``."""
        plan.with_user(self.collector).action_propose()
        if plan.state == "to_approve":
            plan.with_user(self.manager).action_approve()
        self.send_plan(plan)
        plan.with_user(self.collector).acceptance_channel = "call"
        plan.with_user(self.collector).action_accept()
        self.assertEqual(plan.state, "active")

    def messages_of(self, record):
        """Return the plain text of the messages posted on ``record``."""
        return [html2plaintext(message.body) for message in record.message_ids]

    # ------------------------------------------------------------------
    # Schedule
    # ------------------------------------------------------------------

    @freeze_time("2024-02-01")
    def test_generator_thirds_of_thousand(self):
        """1,000 in three monthly instalments: 333.33, 333.33, 333.34."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)

        self.assertEqual(plan.line_ids.mapped("amount"), [333.33, 333.33, 333.34])
        self.assertEqual(
            plan.line_ids.mapped("date"),
            [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)],
        )
        self.assertEqual(plan.amount_scheduled, 1000.0)

    @freeze_time("2024-02-01")
    def test_generator_with_down_payment(self):
        """1,000 with 100 down today and 3 biweekly: 100, then 300 three times."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(
            invoice,
            down_payment=100,
            date_down_payment="2024-02-01",
            frequency="biweekly",
            date_first="2024-02-15",
        )

        self.assertEqual(
            [(line.date, line.amount) for line in plan.line_ids],
            [
                (date(2024, 2, 1), 100.0),
                (date(2024, 2, 15), 300.0),
                (date(2024, 2, 29), 300.0),
                (date(2024, 3, 14), 300.0),
            ],
        )
        self.assertEqual(
            plan.line_ids.mapped("is_down_payment"), [True, False, False, False]
        )

    @freeze_time("2024-02-01")
    def test_generator_percent_reduction(self):
        """A 10% reduction on 1,000 leaves 900 in three instalments of 300."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_type="percent", reduction_value=10)

        self.assertEqual(plan.amount_debt, 1000.0)
        self.assertEqual(plan.amount_reduction, 100.0)
        self.assertEqual(plan.amount_total, 900.0)
        self.assertEqual(plan.line_ids.mapped("amount"), [300.0, 300.0, 300.0])

    @freeze_time("2024-02-01")
    def test_new_plan_action_defaults(self):
        """The action from invoices opens a plan form filled from the items."""
        invoice = self.create_invoice(400, "2024-01-15")
        lines = self.receivable_lines(invoice)

        action = self.plan_model._action_new_for_lines(lines)

        self.assertEqual(action["res_model"], "collection.plan")
        context = action["context"]
        self.assertEqual(context["default_partner_id"], self.customer.id)
        self.assertEqual(context["default_company_id"], self.company.id)
        self.assertEqual(context["default_currency_id"], invoice.currency_id.id)
        plan_form = Form(self.plan_model.with_context(**context))
        plan_form.date_first = date(2024, 3, 1)
        plan = plan_form.save()
        self.assertEqual(plan.move_line_ids, lines)
        self.assertEqual(plan.amount_debt, 400.0)

    # ------------------------------------------------------------------
    # Approval
    # ------------------------------------------------------------------

    @freeze_time("2024-02-01")
    def test_plan_without_approval(self):
        """Three monthly instalments and no reduction are approved at once."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)

        plan.action_propose()

        self.assertEqual(plan.state, "approved")
        self.assertEqual(plan.date_start, date(2024, 2, 1))
        self.assertFalse(plan.approval_reason)
        self.assertTrue(
            any("needs no approval" in text for text in self.messages_of(invoice))
        )

    @freeze_time("2024-02-01")
    def test_reduction_needs_approval(self):
        """A reduction of 50 sends the plan for approval."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_value=50)

        plan.action_propose()

        self.assertEqual(plan.state, "to_approve")
        self.assertIn("forgives", plan.approval_reason)

    @freeze_time("2024-02-01")
    def test_many_instalments_need_approval(self):
        """Seven instalments, one more than allowed, need approval."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, instalment_count=7, frequency="weekly")

        plan.action_propose()

        self.assertEqual(plan.state, "to_approve")
        self.assertIn("7 instalments", plan.approval_reason)

    @freeze_time("2024-02-01")
    def test_six_instalments_need_no_approval(self):
        """Six instalments with a down payment stay within the limit."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, instalment_count=6, down_payment=100)

        plan.action_propose()

        self.assertEqual(len(plan.line_ids), 7)
        self.assertEqual(plan.state, "approved")

    @freeze_time("2024-02-01")
    def test_long_span_needs_approval(self):
        """Quarterly instalments up to March 2025, 13 months on, need approval."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, instalment_count=5, frequency="quarterly")

        plan.action_propose()

        self.assertEqual(plan.line_ids[-1].date, date(2025, 3, 1))
        self.assertEqual(plan.state, "to_approve")
        self.assertIn("12 months", plan.approval_reason)

    @freeze_time("2024-02-01")
    def test_manager_approves(self):
        """A manager approves the plan, recorded with who and when."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_value=50)
        plan.action_propose()

        plan.with_user(self.manager).action_approve()

        self.assertEqual(plan.state, "approved")
        self.assertEqual(plan.approved_by_id, self.manager)
        self.assertTrue(plan.date_approved)
        self.assertTrue(
            any("approved by Mona Manager" in text for text in self.messages_of(plan))
        )

    @freeze_time("2024-02-01")
    def test_manager_refuses_with_reason(self):
        """A refusal needs a reason, is posted, and the plan can go back to draft."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_value=300)
        plan.action_propose()
        wizard_model = self.env["collection.plan.refuse"].with_user(self.manager)

        with self.assertRaises(UserError):
            plan.with_user(self.manager)._refuse("  ")
        wizard = wizard_model.create(
            {"plan_ids": [Command.set(plan.ids)], "reason": "Reduction too large"}
        )
        wizard.action_refuse()

        self.assertEqual(plan.state, "refused")
        self.assertEqual(plan.refused_by_id, self.manager)
        self.assertEqual(plan.refusal_reason, "Reduction too large")
        self.assertTrue(
            any("Reduction too large" in text for text in self.messages_of(invoice))
        )
        plan.with_user(self.collector).action_reset_to_draft()
        self.assertEqual(plan.state, "draft")
        plan.with_user(self.collector).reduction_value = 0
        plan.with_user(self.collector).action_generate_schedule()
        plan.with_user(self.collector).action_propose()
        self.assertEqual(plan.state, "approved")

    @mute_logger(*ACCESS_LOGGERS)
    @freeze_time("2024-02-01")
    def test_collector_cannot_approve_own_reduction(self):
        """The collector who proposed a reduction gets an AccessError on approval,
        by the button or by writing the state."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_value=100)
        plan.with_user(self.collector).action_propose()
        self.assertEqual(plan.state, "to_approve")

        with self.assertRaises(AccessError):
            plan.with_user(self.collector).action_approve()
        with self.assertRaises(AccessError):
            plan.with_user(self.collector).write({"state": "approved"})
        with self.assertRaises(AccessError):
            plan.with_user(self.collector).action_open_refuse_wizard()
        with self.assertRaises(AccessError):
            self.env["collection.plan.refuse"].with_user(self.collector).create(
                {"plan_ids": [Command.set(plan.ids)], "reason": "No"}
            )
        self.assertEqual(plan.state, "to_approve")

    @freeze_time("2024-02-01")
    def test_manager_cannot_approve_own_reduction(self):
        """A manager who negotiated a reduction needs another manager."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, user=self.manager, reduction_value=100)
        plan.with_user(self.manager).action_propose()

        with self.assertRaises(AccessError):
            plan.with_user(self.manager).action_approve()
        self.assertEqual(plan.state, "to_approve")

        other_manager = new_test_user(
            self.env,
            login="otto.manager",
            groups="base.group_user,fast_collections.group_collection_manager",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        plan.with_user(other_manager).action_approve()
        self.assertEqual(plan.state, "approved")

    @mute_logger(*ACCESS_LOGGERS)
    @freeze_time("2024-02-01")
    def test_collector_cannot_write_reduction(self):
        """The reduction follows the approved terms, never a direct write."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.with_user(self.collector).action_propose()
        self.assertEqual(plan.state, "approved")
        with self.assertRaises(AccessError):
            plan.with_user(self.collector).write(
                {"amount_reduction": 400, "amount_total": 600}
            )
        self.assertEqual(plan.amount_reduction, 0)

    @freeze_time("2024-02-01")
    def test_several_down_payments_refused(self):
        """Marking every instalment a down payment does not escape approval."""
        invoice = self.create_invoice(1200, "2024-01-15")
        plan = self.create_plan(invoice, instalment_count=12)
        plan.line_ids.write({"is_down_payment": True})
        with self.assertRaises(UserError) as caught:
            plan.with_user(self.collector).action_propose()
        self.assertIn("several down payments", str(caught.exception))
        self.assertEqual(plan.state, "draft")

    @freeze_time("2024-02-01")
    def test_acceptance_replaces_open_promise(self):
        """An open promise over the plan's items is cancelled, not broken."""
        invoice = self.create_invoice(1000, "2024-01-15")
        action = invoice.action_collection_promise()
        promise_form = Form(
            self.env["collection.promise"].with_context(**action["context"])
        )
        promise_form.date_promised = "2024-02-10"
        promise = promise_form.save()

        plan = self.create_plan(invoice)
        self.activate_plan(plan)

        self.assertEqual(promise.state, "cancelled")
        self.assertTrue(
            any(plan.name in text for text in self.messages_of(promise)),
            "the promise's chatter names the plan that replaced it",
        )

    @mute_logger(*ACCESS_LOGGERS)
    @freeze_time("2024-02-01")
    def test_collector_cannot_create_approved(self):
        """A collector who creates a plan already active gets an AccessError."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with self.assertRaises(AccessError):
            self.plan_model.with_user(self.collector).create(
                {
                    "move_line_ids": [Command.set(self.receivable_lines(invoice).ids)],
                    "date_first": "2024-03-01",
                    "state": "active",
                }
            )

    # ------------------------------------------------------------------
    # Sending and acceptance
    # ------------------------------------------------------------------

    @freeze_time("2024-02-01")
    def test_collector_sends_and_records_acceptance(self):
        """The collector emails the plan with its PDF, then records the
        customer's acceptance by phone."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.with_user(self.collector).action_propose()

        self.send_plan(plan)

        self.assertEqual(plan.state, "sent")
        message = plan.message_ids.filtered(
            lambda message: (
                message.message_type == "comment"
                and self.customer.partner_share
                and self.customer in message.partner_ids
            )
        )
        self.assertEqual(len(message), 1)
        self.assertEqual(len(message.attachment_ids), 1)
        self.assertIn(plan.name, message.attachment_ids.name)
        self.assertTrue(self.outgoing_mails_to(self.customer))

        with self.assertRaises(UserError):
            plan.with_user(self.collector).action_accept()
        plan.with_user(self.collector).acceptance_channel = "call"
        plan.with_user(self.collector).action_accept()

        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.accepted_by_id, self.collector)
        self.assertTrue(plan.date_accepted)
        self.assertTrue(
            any(
                "accepted by the customer" in text for text in self.messages_of(invoice)
            )
        )

    @freeze_time("2024-02-01")
    def test_email_in_customer_language(self):
        """The plan's email template renders in the customer's language."""
        self.env["res.lang"]._activate_lang("es_ES")
        self.customer.lang = "es_ES"
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        template = self.env.ref("fast_collections.mail_template_collection_plan")

        self.assertEqual(template._render_lang(plan.ids)[plan.id], "es_ES")
        self.assertEqual(
            template.report_template_ids,
            self.env.ref("fast_collections.action_report_collection_plan"),
        )

    @freeze_time("2024-02-01")
    def test_plan_report_renders(self):
        """The plan's report lists the schedule amounts."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)

        html, __ = self.env["ir.actions.report"]._render_qweb_html(
            "fast_collections.action_report_collection_plan", plan.ids
        )

        self.assertIn(b"333.34", html)
        self.assertIn(plan.name.encode(), html)

    @freeze_time("2024-02-01")
    def test_cancel_active_plan(self):
        """Cancelling an active plan posts who cancelled it."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        self.activate_plan(plan)

        plan.with_user(self.collector).action_cancel()

        self.assertEqual(plan.state, "cancelled")
        self.assertTrue(
            any(
                "cancelled by Carla Collector" in text
                for text in self.messages_of(invoice)
            )
        )

    # ------------------------------------------------------------------
    # Reductions
    # ------------------------------------------------------------------

    @freeze_time("2024-02-01")
    def test_immediate_reduction_booked_at_acceptance(self):
        """A reduction of 100 at once is a posted credit note on acceptance.
        Payments fill the instalments, the credit note does not."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(
            invoice, reduction_value=100, reduction_timing="immediate"
        )

        self.activate_plan(plan)

        credit_note = plan.reduction_move_ids
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note.amount_total, 100.0)
        self.assertEqual(credit_note.amount_tax, 0.0)
        self.assertEqual(
            credit_note.invoice_line_ids.account_id, self.reduction_account
        )
        self.assertIn(plan.name, credit_note.ref)
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(invoice.amount_residual, 900.0)
        self.assertEqual(plan.amount_total, 900.0)
        self.assertEqual(plan.amount_paid, 0.0)

        self.pay_invoice(invoice, 300, "2024-02-20")
        with freeze_time("2024-03-02"):
            plan.action_refresh_payments()

        self.assertEqual(plan.amount_paid, 300.0)
        self.assertEqual(plan.line_ids.mapped("state"), ["paid", "open", "open"])
        self.assertEqual(plan.state, "active")

    @freeze_time("2024-02-01")
    def test_reduction_without_account(self):
        """A reduction with no reduction account set raises a UserError."""
        self.company.collection_reduction_account_id = False
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice, reduction_value=100)

        with self.assertRaisesRegex(UserError, "no reduction account"):
            plan.action_propose()
        self.assertEqual(plan.state, "draft")

    def test_reduction_account_removed_later(self):
        """A plan completed after its reduction account was removed stays
        active, and the run still ends."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with freeze_time("2024-02-01"):
            plan = self.create_plan(invoice, reduction_value=100)
            self.activate_plan(plan)
        self.company.collection_reduction_account_id = False
        self.pay_invoice(invoice, 900, "2024-02-20")

        with (
            freeze_time("2024-02-21"),
            mute_logger("odoo.addons.fast_collections.models.collection_plan"),
        ):
            run = self.run_collection("2024-02-21")

        self.assertEqual(run.state, "done")
        self.assertEqual(run.plan_completed_count, 0)
        self.assertEqual(plan.state, "active")
        self.assertFalse(plan.reduction_move_ids)

    def test_conditional_reduction_completed(self):
        """With 10% forgiven on completion, three payments of 300 complete the
        plan, and a credit note of 100 settles the invoice."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with freeze_time("2024-02-01"):
            plan = self.create_plan(
                invoice, reduction_type="percent", reduction_value=10
            )
            self.activate_plan(plan)
        self.assertFalse(plan.reduction_move_ids)

        for payment_date in ("2024-02-28", "2024-03-29", "2024-04-30"):
            self.pay_invoice(invoice, 300, payment_date)
        with freeze_time("2024-05-02"):
            run = self.run_collection("2024-05-02")

        self.assertEqual(run.plan_completed_count, 1)
        self.assertEqual(plan.state, "completed")
        self.assertEqual(plan.date_closed, date(2024, 5, 2))
        self.assertEqual(plan.amount_paid, 900.0)
        self.assertEqual(plan.line_ids.mapped("state"), ["paid"] * 3)
        self.assertEqual(plan.reduction_move_ids.amount_total, 100.0)
        self.assertEqual(plan.reduction_move_ids.invoice_date, date(2024, 5, 2))
        self.assertEqual(invoice.payment_state, "paid")
        self.assertTrue(self.receivable_lines(invoice).reconciled)
        self.assertTrue(any("completed" in text for text in self.messages_of(invoice)))

    def test_full_payment_leaves_reduction_unbooked(self):
        """A customer who pays the whole debt under a conditional reduction
        completes the plan without a credit note, and the collector gets an
        activity."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with freeze_time("2024-02-01"):
            plan = self.create_plan(invoice, reduction_value=100)
            self.activate_plan(plan)

        self.pay_invoice(invoice, 1000, "2024-02-05")
        with freeze_time("2024-02-06"):
            self.run_collection("2024-02-06")

        self.assertEqual(plan.state, "completed")
        self.assertFalse(plan.reduction_move_ids)
        messages = self.messages_of(plan)
        self.assertFalse(any("booked in the credit notes" in text for text in messages))
        self.assertTrue(any("was not booked" in text for text in messages))
        activity = plan.activity_ids.filtered(
            lambda activity: (
                activity.summary == "Customer paid more than the agreed total"
            )
        )
        self.assertEqual(activity.user_id, self.collector)

    def test_conditional_reduction_broken(self):
        """A missed instalment breaks the plan: no credit note, a call for the
        collector, and the invoice escalates again in the same run."""
        self.policy.grace_days = 3
        invoice = self.create_invoice(1000, "2024-01-01")
        with freeze_time("2024-01-11"):
            self.run_collection("2024-01-11")
        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        with freeze_time("2024-01-12"):
            plan = self.create_plan(
                invoice,
                reduction_value=100,
                instalment_count=2,
                date_first="2024-02-01",
            )
            self.activate_plan(plan)
        self.assertEqual(plan.line_ids.mapped("amount"), [450.0, 450.0])
        history_before = invoice.collection_history_ids

        with freeze_time("2024-01-25"):
            paused_run = self.run_collection("2024-01-25")
        self.assertEqual(paused_run.skip_counts.get("plan"), 1)
        self.assertEqual(invoice.collection_history_ids, history_before)
        self.assertEqual(invoice.collection_stage_id, self.stage_first)

        self.pay_invoice(invoice, 450, "2024-01-31")
        with freeze_time("2024-03-04"):
            grace_run = self.run_collection("2024-03-04")
        self.assertEqual(plan.state, "active")
        self.assertEqual(grace_run.plan_broken_count, 0)
        self.assertEqual(invoice.collection_history_ids, history_before)

        with freeze_time("2024-03-05"):
            break_run = self.run_collection("2024-03-05")

        self.assertEqual(break_run.plan_broken_count, 1)
        self.assertEqual(plan.state, "broken")
        self.assertEqual(plan.line_ids.mapped("state"), ["paid", "missed"])
        self.assertEqual(plan.amount_paid, 450.0)
        self.assertFalse(plan.reduction_move_ids)
        self.assertEqual(invoice.amount_residual, 550.0)
        self.assertEqual(plan.activity_ids.user_id, self.collector)
        new_history = invoice.collection_history_ids - history_before
        self.assertTrue(new_history)
        self.assertEqual(new_history.run_id, break_run)
        self.assertNotEqual(invoice.collection_stage_id, self.stage_first)
        self.assertTrue(
            any("is not granted" in text for text in self.messages_of(invoice))
        )

    # ------------------------------------------------------------------
    # Payments over several invoices
    # ------------------------------------------------------------------

    def test_partial_payments_over_three_invoices(self):
        """Invoices of 300, 500 and 200 in four instalments of 250: 300 and 200
        paid fill the first two instalments."""
        invoices = (
            self.create_invoice(300, "2024-01-05")
            | self.create_invoice(500, "2024-01-10")
            | self.create_invoice(200, "2024-01-15")
        )
        with freeze_time("2024-02-01"):
            plan = self.create_plan(invoices, instalment_count=4)
            self.activate_plan(plan)
        self.assertEqual(plan.line_ids.mapped("amount"), [250.0] * 4)

        self.pay_invoice(invoices[0], 300, "2024-02-25")
        self.pay_invoice(invoices[1], 200, "2024-03-20")
        with freeze_time("2024-03-25"):
            run = self.run_collection("2024-03-25")

        self.assertEqual(run.plan_broken_count, 0)
        self.assertEqual(plan.amount_paid, 500.0)
        self.assertEqual(plan.line_ids.mapped("amount_paid"), [250.0, 250.0, 0, 0])
        self.assertEqual(
            plan.line_ids.mapped("state"), ["paid", "paid", "open", "open"]
        )
        self.assertEqual(plan.amount_residual, 500.0)
        for invoice in invoices:
            self.assertTrue(
                any("Instalment of" in text for text in self.messages_of(invoice))
            )

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------

    @freeze_time("2024-02-01")
    def test_instalments_must_add_up(self):
        """An edited instalment that breaks the total is refused on proposal."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.line_ids[-1].amount = 300

        with self.assertRaisesRegex(UserError, "add up to"):
            plan.action_propose()
        self.assertEqual(plan.state, "draft")

    @freeze_time("2024-02-01")
    def test_past_first_date(self):
        """A first instalment date before today is refused."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with self.assertRaisesRegex(UserError, "in the past"):
            self.create_plan(invoice, date_first="2024-01-31")

    @freeze_time("2024-02-01")
    def test_past_instalment_date(self):
        """An instalment moved before today is refused on proposal."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.line_ids[0].date = date(2024, 1, 20)

        with self.assertRaisesRegex(UserError, "in the past"):
            plan.action_propose()

    @freeze_time("2024-02-01")
    def test_zero_instalment(self):
        """An instalment of zero is refused on proposal."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.line_ids = [
            Command.update(plan.line_ids[0].id, {"amount": 0.0}),
            Command.update(plan.line_ids[1].id, {"amount": 666.66}),
        ]

        with self.assertRaisesRegex(UserError, "more than zero"):
            plan.action_propose()

    @freeze_time("2024-02-01")
    def test_negative_terms(self):
        """A negative down payment or reduction and zero instalments are refused."""
        invoice = self.create_invoice(1000, "2024-01-15")
        cases = [
            {"down_payment": -10},
            {"reduction_value": -5},
            {"instalment_count": 0},
            {"reduction_type": "percent", "reduction_value": 100},
        ]
        for terms in cases:
            with self.subTest(terms=terms), self.assertRaises(ValidationError):
                self.create_plan(invoice, generate=False, **terms)

    @freeze_time("2024-02-01")
    def test_reduction_not_below_debt(self):
        """A reduction equal to the debt of 1,000 is refused."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with self.assertRaisesRegex(UserError, "not less than the debt"):
            self.create_plan(invoice, reduction_value=1000)

    @freeze_time("2024-02-01")
    def test_down_payment_not_above_total(self):
        """A down payment of the whole debt leaves no instalment and is refused."""
        invoice = self.create_invoice(1000, "2024-01-15")
        with self.assertRaisesRegex(UserError, "down payment"):
            self.create_plan(invoice, down_payment=1000)

    @freeze_time("2024-02-01")
    def test_paid_invoice_refused(self):
        """A plan over a paid invoice is refused."""
        invoice = self.create_invoice(1000, "2024-01-15")
        self.pay_invoice(invoice, 1000, "2024-01-20")
        with self.assertRaisesRegex(UserError, "already paid"):
            self.create_plan(invoice)

    @freeze_time("2024-02-01")
    def test_invoice_in_other_plan_refused(self):
        """An invoice already in a proposed plan cannot join a second plan."""
        invoice = self.create_invoice(1000, "2024-01-15")
        first_plan = self.create_plan(invoice)
        first_plan.action_propose()

        with self.assertRaisesRegex(UserError, first_plan.name):
            self.create_plan(invoice)

    @freeze_time("2024-02-01")
    def test_several_customers_refused(self):
        """Invoices of two customers cannot share a plan."""
        other_customer = self.env["res.partner"].create({"name": "Other Debtor"})
        invoices = self.create_invoice(1000, "2024-01-15") | self.create_invoice(
            500, "2024-01-15", partner=other_customer
        )
        with self.assertRaisesRegex(UserError, "several customers"):
            self.create_plan(invoices)

    @freeze_time("2024-02-01")
    def test_several_companies_refused(self):
        """Invoices of two companies cannot share a plan."""
        other_company = self.setup_other_company(name="Company B")["company"]
        invoices = self.create_invoice(1000, "2024-01-15") | self.create_invoice(
            500, "2024-01-15", company=other_company
        )
        lines = self.receivable_lines(invoices[0]) | self.receivable_lines(invoices[1])
        with self.assertRaisesRegex(UserError, "several companies"):
            self.plan_model._action_new_for_lines(lines)

    @freeze_time("2024-02-01")
    def test_schedule_fixed_after_proposal(self):
        """Amounts and instalments cannot change once the plan is proposed."""
        invoice = self.create_invoice(1000, "2024-01-15")
        plan = self.create_plan(invoice)
        plan.action_propose()

        with self.assertRaises(UserError):
            plan.line_ids[0].amount = 500
        with self.assertRaises(UserError):
            plan.down_payment = 100
