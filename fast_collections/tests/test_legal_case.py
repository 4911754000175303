from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import CollectionCommon

ACCESS_LOGGERS = (
    "odoo.addons.base.models.ir_model",
    "odoo.addons.base.models.ir_rule",
    "odoo.models",
)


@tagged("post_install", "-at_install")
class TestLegalCase(CollectionCommon):
    """Legal cases opened by disputes and by the hand-over stage, their
    assignment, escalation, outcomes, evidence pack and access rights.

    The shipped policy hands items over to legal 75 days after their due date.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        user_values = {
            "company_id": cls.company.id,
            "company_ids": [Command.set(cls.company.ids)],
        }
        legal_groups = "base.group_user,fast_collections.group_collection_legal"
        cls.lawyer_a = new_test_user(
            cls.env,
            login="lou.legal",
            name="Lou Legal",
            groups=legal_groups,
            **user_values,
        )
        cls.lawyer_b = new_test_user(
            cls.env,
            login="leo.legal",
            name="Leo Legal",
            groups=legal_groups,
            **user_values,
        )
        cls.leader = new_test_user(
            cls.env,
            login="lena.lead",
            name="Lena Lead",
            groups=legal_groups,
            **user_values,
        )
        cls.collector = new_test_user(
            cls.env,
            login="cleo.collector",
            name="Cleo Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            **user_values,
        )
        cls.manager = new_test_user(
            cls.env,
            login="max.manager",
            name="Max Manager",
            groups="base.group_user,fast_collections.group_collection_manager",
            **user_values,
        )
        cls.company.write(
            {
                "collection_legal_leader_id": cls.leader.id,
                "collection_legal_days": 30,
                "collection_user_id": cls.collector.id,
                "collection_write_off_account_id": cls.company_data[
                    "default_account_expense"
                ].id,
            }
        )
        cls.customer.collection_user_id = cls.collector
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Other Debtor", "email": "ap@other-debtor.example.com"}
        )
        cls.reason_legal = cls.env["collection.dispute.reason"].create(
            {"name": "Fraud suspected", "resolution_days": 20, "to_legal": True}
        )
        cls.case_model = cls.env["collection.legal.case"]

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def open_dispute(self, invoices, on_date, reason=None, amounts=None):
        """Open a dispute over ``invoices`` on ``on_date`` through the form."""
        with freeze_time(on_date):
            action = invoices.action_collection_dispute()
            form = Form(
                self.env["collection.dispute"].with_context(**action["context"])
            )
            form.reason_id = reason or self.reason_legal
            for index, amount in enumerate(amounts or ()):
                with form.line_ids.edit(index) as line:
                    line.amount_disputed = amount
            return form.save()

    def hand_over(self, invoice, run_date="2024-03-20"):
        """Run the collection on ``run_date``, 79 days after 1 January."""
        with freeze_time(run_date):
            return self.run_collection(run_date)

    def todo_activities(self, case):
        return case.activity_ids.filtered(
            lambda activity: (
                activity.activity_type_id
                == self.env.ref("mail.mail_activity_data_todo")
            )
        )

    # ------------------------------------------------------------------
    # Routes to legal
    # ------------------------------------------------------------------

    def test_dispute_to_legal_opens_case(self):
        """A dispute whose reason goes to legal opens one case, due at the
        dispute's deadline, with an activity for its lawyer."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")

        case = dispute.legal_case_ids
        self.assertEqual(len(case), 1)
        self.assertEqual(case.origin, "dispute")
        self.assertEqual(case.partner_id, self.customer)
        self.assertEqual(case.move_ids, invoice)
        self.assertEqual(case.date_deadline, date(2026, 3, 30))
        self.assertEqual(case.user_id, self.lawyer_a)
        activity = self.todo_activities(case)
        self.assertEqual(activity.user_id, self.lawyer_a)
        self.assertEqual(activity.date_deadline, date(2026, 3, 30))

    def test_dispute_not_to_legal_opens_no_case(self):
        """A dispute for defective goods stays with the collector."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(
            invoice,
            "2026-03-10",
            reason=self.env.ref("fast_collections.dispute_reason_defective"),
        )
        self.assertFalse(dispute.legal_case_ids)

    def test_stage_handover_opens_one_case_per_customer(self):
        """Two invoices reaching the hand-over stage make one case; a third one
        reaching it later joins the same open case."""
        self.assertTrue(self.stage_legal.legal_handover)
        invoice_a = self.create_invoice(1000, "2024-01-01")
        invoice_b = self.create_invoice(500, "2024-01-01")
        run = self.hand_over(invoice_a)

        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(case), 1)
        self.assertEqual(run.legal_case_count, 1)
        self.assertEqual(case.origin, "stage")
        self.assertEqual(case.move_ids, invoice_a | invoice_b)
        self.assertEqual(case.date_deadline, date(2024, 4, 19))
        self.assertEqual(case.amount_residual, 1500)
        self.assertIn("handed over to legal", case.message_ids[0].body)

        invoice_c = self.create_invoice(300, "2024-01-10")
        with freeze_time("2024-03-28"):
            run = self.run_collection("2024-03-28")
        self.assertEqual(run.legal_case_count, 0)
        self.assertEqual(
            self.case_model.search([("partner_id", "=", self.customer.id)]), case
        )
        self.assertEqual(case.move_ids, invoice_a | invoice_b | invoice_c)

    # ------------------------------------------------------------------
    # Assignment
    # ------------------------------------------------------------------

    def test_round_robin_assignment(self):
        """Cases go to each Legal user in turn, then back to the first."""
        self.company.collection_legal_assignment = "round_robin"
        users = []
        for __ in range(4):
            dispute = self.open_dispute(
                self.create_invoice(100, "2026-03-01"), "2026-03-10"
            )
            users.append(dispute.legal_case_ids.user_id)
        self.assertEqual(
            users, [self.lawyer_a, self.lawyer_b, self.leader, self.lawyer_a]
        )

    def test_least_loaded_assignment(self):
        """A new case goes to the Legal user with the fewest open cases."""
        self.company.collection_legal_assignment = "least_loaded"
        for user in (self.lawyer_a, self.lawyer_a, self.leader):
            self.case_model.create(
                {
                    "origin": "stage",
                    "partner_id": self.other_customer.id,
                    "user_id": user.id,
                    "date_deadline": "2026-04-30",
                }
            )
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        self.assertEqual(dispute.legal_case_ids.user_id, self.lawyer_b)

    def test_no_legal_user_falls_back_to_collector(self):
        """With no Legal user and no leader, the case goes to the default
        collector and a warning is logged."""
        self.company.collection_legal_leader_id = False
        (self.lawyer_a | self.lawyer_b | self.leader).active = False
        with self.assertLogs(
            "odoo.addons.fast_collections.models.collection_legal_case", "WARNING"
        ):
            dispute = self.open_dispute(
                self.create_invoice(100, "2026-03-01"), "2026-03-10"
            )
        self.assertEqual(dispute.legal_case_ids.user_id, self.collector)

    def test_leader_reassigns_case(self):
        """The leader reassigns a case: the activity moves to the new lawyer."""
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        case = dispute.legal_case_ids
        self.assertEqual(case.user_id, self.lawyer_a)

        case.with_user(self.leader).user_id = self.lawyer_b

        self.assertEqual(case.user_id, self.lawyer_b)
        self.assertEqual(self.todo_activities(case).user_id, self.lawyer_b)

    @mute_logger(*ACCESS_LOGGERS)
    def test_non_leader_cannot_reassign(self):
        """A lawyer who is not the leader cannot hand a case to a colleague."""
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        case = dispute.legal_case_ids
        with self.assertRaises(AccessError):
            case.with_user(self.lawyer_a).user_id = self.lawyer_b
        self.assertEqual(case.user_id, self.lawyer_a)

    # ------------------------------------------------------------------
    # Escalation
    # ------------------------------------------------------------------

    def test_deadline_escalates_once(self):
        """A case past its deadline of 30 March is escalated to the leader by
        the run of 1 April, not again on 2 April, and again once its new
        deadline has passed."""
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        case = dispute.legal_case_ids
        with freeze_time("2026-03-30"):
            run = self.run_collection("2026-03-30")
        self.assertEqual(run.legal_escalated_count, 0)

        with freeze_time("2026-04-01"):
            run = self.run_collection("2026-04-01")
        self.assertEqual(run.legal_escalated_count, 1)
        leader_activities = case.activity_ids.filtered(
            lambda activity: activity.user_id == self.leader
        )
        self.assertEqual(len(leader_activities), 1)
        self.assertEqual(case.date_escalated, date(2026, 3, 30))

        with freeze_time("2026-04-02"):
            run = self.run_collection("2026-04-02")
        self.assertEqual(run.legal_escalated_count, 0)

        case.date_deadline = "2026-04-10"
        with freeze_time("2026-04-11"):
            run = self.run_collection("2026-04-11")
        self.assertEqual(run.legal_escalated_count, 1)

    # ------------------------------------------------------------------
    # Outcomes
    # ------------------------------------------------------------------

    def test_close_without_outcome_refused(self):
        """Closing a case with no outcome chosen is refused."""
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        with self.assertRaisesRegex(UserError, "Choose the outcome"):
            dispute.legal_case_ids.with_user(self.lawyer_a).action_close()

    def test_credit_note_partial_reconciled(self):
        """A credit of 400 agreed on an invoice of 1,000 reverses it through the
        reversal wizard for 400 and leaves 600 owed."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        case = dispute.legal_case_ids.with_user(self.lawyer_a)
        case.write({"outcome": "credit_note", "amount_settled": 400})

        with freeze_time("2026-03-20"):
            case.action_close()

        credit_note = case.settlement_move_ids
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note.amount_total, 400)
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(invoice.amount_residual, 600)
        self.assertEqual(case.state, "closed")
        self.assertEqual(dispute.state, "closed")
        self.assertEqual(dispute.outcome, "credit_note")
        self.assertEqual(dispute.settlement_move_ids, credit_note)
        invoice_messages = invoice.message_ids.mapped("body")
        self.assertTrue(any(credit_note.name in body for body in invoice_messages))

    def test_credit_note_keeps_taxes_proportional(self):
        """A credit of 460 on an invoice of 1,000 plus 15% tax books 400 untaxed
        and 60 of tax."""
        tax = self.env["account.tax"].create(
            {"name": "Sales 15%", "amount": 15, "company_id": self.company.id}
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": "2026-03-01",
                "invoice_date_due": "2026-03-01",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Services",
                            "price_unit": 1000,
                            "tax_ids": [Command.set(tax.ids)],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        dispute = self.open_dispute(invoice, "2026-03-10")
        dispute.write({"outcome": "credit_note", "amount_settled": 460})
        with freeze_time("2026-03-20"):
            dispute.action_close()
        credit_note = dispute.settlement_move_ids
        self.assertEqual(credit_note.amount_untaxed, 400)
        self.assertEqual(credit_note.amount_tax, 60)
        self.assertEqual(invoice.amount_residual, 690)

    def test_credit_note_above_disputed_refused(self):
        """A credit of 700 on a dispute of 500 is refused."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10", amounts=[500])
        dispute.write({"outcome": "credit_note", "amount_settled": 700})
        with self.assertRaisesRegex(UserError, "more than the"):
            dispute.action_close()
        self.assertEqual(dispute.state, "open")
        self.assertEqual(invoice.amount_residual, 1000)

    def test_rejected_closes_case_and_dispute(self):
        """Rejecting from the case closes its dispute as rejected: 1,000 stays
        owed."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        case = dispute.legal_case_ids.with_user(self.lawyer_a)
        case.write({"outcome": "rejected", "resolution_note": "Claim unfounded."})
        case.action_close()
        self.assertEqual(case.state, "closed")
        self.assertEqual(dispute.state, "closed")
        self.assertEqual(dispute.outcome, "rejected")
        self.assertEqual(invoice.amount_residual, 1000)

    def test_settled_by_payment_plan(self):
        """A plan may cover the items of a dispute being settled by it, and the
        dispute closes with the plan."""
        invoice = self.create_invoice(900, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        with freeze_time("2026-03-12"):
            action = dispute.with_user(self.collector).action_settle_with_plan()
            self.assertEqual(dispute.outcome, "plan")
            form = Form(
                self.env["collection.plan"]
                .with_user(self.collector)
                .with_context(**action["context"])
            )
            form.instalment_count = 3
            form.frequency = "monthly"
            form.date_first = date(2026, 4, 1)
            plan = form.save()
            plan.action_generate_schedule()
            plan.action_propose()
        self.assertIn(plan.state, ("approved", "to_approve"))

        dispute.plan_id = plan
        dispute.action_close()

        self.assertEqual(dispute.state, "closed")
        self.assertEqual(dispute.legal_case_ids.state, "closed")
        self.assertEqual(dispute.legal_case_ids.plan_id, plan)

    def test_plan_refused_over_dispute_not_settled_by_it(self):
        """Without the Payment Plan outcome, disputed items stay out of plans."""
        invoice = self.create_invoice(900, "2026-03-01")
        self.open_dispute(invoice, "2026-03-10")
        with self.assertRaisesRegex(UserError, "is in dispute"):
            invoice.action_collection_plan()

    def test_legal_claim_takes_items_out_of_collection(self):
        """After a legal claim the run skips the items for that reason."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        case = case.with_user(case.user_id)
        case.outcome = "legal_claim"
        with self.assertRaisesRegex(UserError, "reference of the legal claim"):
            case.action_close()

        case.write({"claim_reference": "Court 12/2024", "claim_date": "2024-03-25"})
        case.action_close()
        item = self.receivable_lines(invoice)
        self.assertEqual(item.collection_claim_reference, "Court 12/2024")
        self.assertEqual(item.collection_claim_date, date(2024, 3, 25))

        with freeze_time("2024-06-01"):
            run = self.run_collection("2024-06-01")
        self.assertEqual(run.skip_counts, {"legal_claim": 1})
        self.assertIn("legal claim filed", run.skip_summary)
        self.assertFalse(run.notice_ids)

    @mute_logger(*ACCESS_LOGGERS)
    def test_write_off_needs_manager_approval(self):
        """A write-off is refused until a manager approves it, and then books a
        credit note on the write-off account reconciled with the invoice."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        as_lawyer = case.with_user(case.user_id)
        as_lawyer.outcome = "write_off"
        with self.assertRaisesRegex(UserError, "not approved"):
            as_lawyer.action_close()

        as_lawyer.action_request_write_off()
        self.assertEqual(case.write_off_state, "requested")
        with self.assertRaises(AccessError):
            case.with_user(self.collector).action_approve_write_off()
        case.with_user(self.manager).action_approve_write_off()
        self.assertEqual(case.write_off_approved_by_id, self.manager)

        with freeze_time("2024-03-25"):
            as_lawyer.action_close()
        move = case.settlement_move_ids
        self.assertEqual(move.amount_total, 1000)
        self.assertEqual(
            move.invoice_line_ids.account_id,
            self.company.collection_write_off_account_id,
        )
        self.assertTrue(move.line_ids.filtered("reconciled"))
        self.assertEqual(invoice.amount_residual, 0)
        self.assertEqual(case.state, "closed")

    # ------------------------------------------------------------------
    # Evidence pack
    # ------------------------------------------------------------------

    def test_evidence_pack_lists_history(self):
        """The pack lists the reminders, the broken promise and the payment."""
        invoice = self.create_invoice(1000, "2024-01-01")
        with freeze_time("2024-01-10"):
            self.run_collection("2024-01-10")
        with freeze_time("2024-01-12"):
            action = invoice.action_collection_promise()
            form = Form(
                self.env["collection.promise"].with_context(**action["context"])
            )
            form.amount = 1000
            form.date_promised = date(2024, 1, 20)
            form.channel = "call"
            promise = form.save()
        self.pay_invoice(invoice, 200, "2024-01-25")
        with freeze_time("2024-01-29"):
            self.run_collection("2024-01-29")
        self.assertEqual(promise.state, "broken")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])

        html, __ = (
            self.env["ir.actions.report"]
            .with_user(case.user_id)
            ._render_qweb_html(
                "fast_collections.action_report_collection_legal_case", case.ids
            )
        )
        html = html.decode()
        self.assertIn("Acme Debtor", html)
        self.assertIn(invoice.name, html)
        self.assertIn("First reminder", html)
        self.assertIn("Hand-over to legal", html)
        self.assertIn(promise.name, html)
        self.assertIn("Broken", html)
        payment = invoice.line_ids.matched_credit_ids.credit_move_id.move_id
        self.assertIn(payment.name, html)
        self.assertIn("800.00", html)

    # ------------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------------

    def test_legal_reads_case_invoices_history_notices(self):
        """The lawyer of the case reads its invoice, history and notices
        without any accounting role."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        lawyer = case.user_id
        self.assertEqual(
            invoice.with_user(lawyer).read(["name"])[0]["name"], invoice.name
        )
        history = (
            self.env["collection.history"]
            .with_user(lawyer)
            .search([("move_id", "=", invoice.id)])
        )
        self.assertTrue(history)
        notices = self.env["collection.notice"].with_user(lawyer).search([])
        self.assertTrue(notices)
        self.assertEqual(notices.partner_id, self.customer)

    @mute_logger(*ACCESS_LOGGERS)
    def test_legal_cannot_read_other_customers(self):
        """The lawyer of the case does not see another customer's invoice."""
        invoice = self.create_invoice(1000, "2024-01-01")
        other_invoice = self.create_invoice(
            700, "2024-01-01", partner=self.other_customer
        )
        self.other_customer.write(
            {
                "collection_hold_until": "2024-12-31",
                "collection_hold_reason": "Paying through its bank in December",
            }
        )
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        lawyer = case.user_id
        moves = self.env["account.move"].with_user(lawyer)
        self.assertFalse(moves.search([("id", "=", other_invoice.id)]))
        with self.assertRaises(AccessError):
            other_invoice.with_user(lawyer).read(["name"])

    @mute_logger(*ACCESS_LOGGERS)
    def test_legal_without_case_reads_no_invoice(self):
        """A lawyer with no case reads no entry, no history and no notice."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        other_lawyer = (self.lawyer_a | self.lawyer_b) - case.user_id
        self.assertFalse(self.env["account.move"].with_user(other_lawyer).search([]))
        self.assertFalse(
            self.env["collection.history"].with_user(other_lawyer).search([])
        )
        with self.assertRaises(AccessError):
            invoice.with_user(other_lawyer).read(["name"])

    def test_leader_reads_all_cases(self):
        """The team leader reads the cases of the company and their invoices."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(self.case_model.with_user(self.leader).search([]), case)
        self.assertEqual(
            invoice.with_user(self.leader).read(["name"])[0]["name"], invoice.name
        )

    # ------------------------------------------------------------------
    # Write-off approval
    # ------------------------------------------------------------------

    def open_ordinary_dispute(self, invoice, on_date, amounts=None):
        return self.open_dispute(
            invoice,
            on_date,
            reason=self.env.ref("fast_collections.dispute_reason_defective"),
            amounts=amounts,
        )

    @mute_logger(*ACCESS_LOGGERS)
    def test_write_off_approval_not_writable(self):
        """A collector cannot approve a write-off by writing its approval."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_ordinary_dispute(invoice, "2026-03-10")
        as_collector = dispute.with_user(self.collector)
        with self.assertRaises(AccessError):
            as_collector.write({"outcome": "write_off", "write_off_state": "approved"})
        with self.assertRaises(AccessError):
            as_collector.write_off_approved_by_id = self.collector
        as_collector.outcome = "write_off"
        with self.assertRaisesRegex(UserError, "not approved"):
            as_collector.action_close()
        self.assertEqual(invoice.amount_residual, 1000)

    def test_write_off_approval_withdrawn_on_change(self):
        """Approved for 100, the amount raised to 1,000: the approval is
        withdrawn and closing is refused until approved again."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        case = dispute.legal_case_ids.with_user(self.lawyer_a)
        case.write({"outcome": "write_off", "amount_settled": 100})
        case.action_request_write_off()
        case.with_user(self.manager).action_approve_write_off()
        self.assertEqual(case.write_off_state, "approved")

        case.amount_settled = 1000
        self.assertFalse(case.write_off_state)
        self.assertFalse(case.write_off_approved_by_id)
        with self.assertRaisesRegex(UserError, "not approved"):
            case.action_close()

        case.action_request_write_off()
        case.with_user(self.manager).action_approve_write_off()
        case.outcome = "rejected"
        case.outcome = "write_off"
        self.assertFalse(case.write_off_state)
        self.assertEqual(invoice.amount_residual, 1000)

    @mute_logger(*ACCESS_LOGGERS)
    def test_write_off_other_manager_approves(self):
        """A manager who requested a write-off cannot approve it."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_ordinary_dispute(invoice, "2026-03-10")
        as_manager = dispute.with_user(self.manager)
        as_manager.action_request_write_off()
        self.assertEqual(dispute.amount_settled, 1000)
        with self.assertRaisesRegex(AccessError, "another collections manager"):
            as_manager.action_approve_write_off()
        self.assertEqual(dispute.write_off_state, "requested")

    def test_closed_outcome_not_rewritten(self):
        """The outcome of a closed dispute and of its case is fixed."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        case = dispute.legal_case_ids
        dispute.action_reject()
        for record, user in ((dispute, self.collector), (case, self.lawyer_a)):
            with self.assertRaisesRegex(UserError, "no longer be changed"):
                record.with_user(user).write(
                    {"outcome": "credit_note", "amount_settled": 999}
                )
            with self.assertRaisesRegex(UserError, "no longer be changed"):
                record.with_user(user).claim_reference = "Court 1/2026"
        self.assertEqual(case.outcome, "rejected")

    # ------------------------------------------------------------------
    # Credit notes
    # ------------------------------------------------------------------

    def test_credit_note_exact_amount(self):
        """The credit note totals the agreed amount to the cent: 1.00 of an
        invoice of 39.14 with 21% tax, and 123.45 of a USD invoice with 21%,
        7% and untaxed lines."""
        tax_21, tax_7 = self.env["account.tax"].create(
            [
                {"name": "Sales 21%", "amount": 21, "company_id": self.company.id},
                {"name": "Sales 7%", "amount": 7, "company_id": self.company.id},
            ]
        )
        usd = self.setup_other_currency("USD", rates=[("2020-01-01", 1.37)])
        cases = (
            (
                self.company.currency_id,
                [(10.01, 3, tax_21), (0.33, 7, tax_21)],
                1.00,
            ),
            (usd, [(333.33, 3, tax_21), (77.77, 1, tax_7), (12.34, 7, None)], 123.45),
        )
        for currency, lines, agreed in cases:
            with self.subTest(agreed=agreed):
                invoice = self.env["account.move"].create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": self.customer.id,
                        "invoice_date": "2026-02-01",
                        "invoice_date_due": "2026-03-01",
                        "currency_id": currency.id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": "Goods",
                                    "price_unit": price,
                                    "quantity": quantity,
                                    "tax_ids": [Command.set(tax.ids if tax else [])],
                                }
                            )
                            for price, quantity, tax in lines
                        ],
                    }
                )
                invoice.action_post()
                total = invoice.amount_total
                dispute = self.open_ordinary_dispute(invoice, "2026-03-10")
                dispute.write({"outcome": "credit_note", "amount_settled": agreed})
                dispute.action_close()
                credit_note = dispute.settlement_move_ids
                self.assertEqual(credit_note.currency_id, currency)
                self.assertAlmostEqual(credit_note.amount_total, agreed, places=2)
                self.assertEqual(credit_note.payment_state, "paid")
                self.assertAlmostEqual(
                    invoice.amount_residual, total - agreed, places=2
                )
                booked = [
                    body
                    for body in invoice.message_ids.mapped("body")
                    if credit_note.name in body and "booked" in body
                ]
                self.assertIn(f"{agreed:,.2f}", booked[0])

    def test_credit_note_on_disputed_instalment(self):
        """1,000 on a 50/50 term, the second instalment disputed for 200: the
        credit note of 200 settles the second instalment, not the first."""
        term = self.create_instalment_term((0, 30))
        invoice = self.create_invoice(
            1000, "2026-01-01", invoice_date="2026-01-01", payment_term=term
        )
        first, second = self.receivable_lines(invoice)
        with freeze_time("2026-02-10"):
            action = invoice.action_collection_dispute()
            form = Form(
                self.env["collection.dispute"].with_context(**action["context"])
            )
            form.reason_id = self.env.ref("fast_collections.dispute_reason_defective")
            form.line_ids.remove(0)
            with form.line_ids.edit(0) as line:
                line.amount_disputed = 200
            dispute = form.save()
        dispute.write({"outcome": "credit_note", "amount_settled": 200})
        dispute.action_close()
        self.assertEqual(first.amount_residual, 500)
        self.assertEqual(second.amount_residual, 300)
        self.assertEqual(dispute.settlement_move_ids.amount_residual, 0)

    # ------------------------------------------------------------------
    # Cases and their disputes
    # ------------------------------------------------------------------

    def test_cancelled_dispute_cancels_case(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        case = dispute.legal_case_ids
        dispute.action_cancel()
        self.assertEqual(case.state, "cancelled")
        self.assertFalse(self.todo_activities(case))
        self.assertIn("cancelled with its dispute", case.message_ids[0].body)

    def test_case_deadline_follows_dispute(self):
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_dispute(invoice, "2026-03-10")
        dispute.date_deadline = "2026-04-30"
        self.assertEqual(dispute.legal_case_ids.date_deadline, date(2026, 4, 30))

    def test_handover_credit_refused_over_open_dispute(self):
        """A hand-over case is not credited while a dispute on its invoice is
        open."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        dispute = self.open_ordinary_dispute(invoice, "2024-03-21", amounts=[300])
        as_lawyer = case.with_user(case.user_id)
        as_lawyer.write({"outcome": "credit_note", "amount_settled": 1000})
        with self.assertRaisesRegex(UserError, dispute.name):
            as_lawyer.action_close()
        self.assertEqual(invoice.amount_residual, 1000)

        dispute.action_reject()
        as_lawyer.action_close()
        self.assertEqual(invoice.amount_residual, 0)

    # ------------------------------------------------------------------
    # Owners
    # ------------------------------------------------------------------

    def test_case_not_assigned_outside_legal(self):
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        case = dispute.legal_case_ids
        with self.assertRaisesRegex(ValidationError, "not a Legal user"):
            case.with_user(self.leader).user_id = self.collector
        self.assertEqual(case.user_id, self.lawyer_a)

    def test_case_owned_without_legal_or_collector(self):
        """With no Legal user, leader or default collector, the case goes to
        the dispute's collector."""
        self.company.write(
            {"collection_legal_leader_id": False, "collection_user_id": False}
        )
        (self.lawyer_a | self.lawyer_b | self.leader).active = False
        with mute_logger("odoo.addons.fast_collections.models.collection_legal_case"):
            dispute = self.open_dispute(
                self.create_invoice(100, "2026-03-01"), "2026-03-10"
            )
        self.assertEqual(dispute.user_id, self.collector)
        self.assertEqual(dispute.legal_case_ids.user_id, self.collector)

    def test_run_reassigns_archived_lawyer_cases(self):
        dispute = self.open_dispute(
            self.create_invoice(100, "2026-03-01"), "2026-03-10"
        )
        case = dispute.legal_case_ids
        self.assertEqual(case.user_id, self.lawyer_a)
        self.lawyer_a.active = False
        with freeze_time("2026-03-15"):
            self.run_collection("2026-03-15")
        self.assertIn(case.user_id, self.lawyer_b | self.leader)
        self.assertEqual(self.todo_activities(case).user_id, case.user_id)

    # ------------------------------------------------------------------
    # What Legal users read and work
    # ------------------------------------------------------------------

    @mute_logger(*ACCESS_LOGGERS)
    def test_legal_without_case_reads_no_dispute(self):
        """A lawyer with no case reads no dispute, promise or plan, and cannot
        close a dispute."""
        invoice = self.create_invoice(1000, "2026-03-01")
        dispute = self.open_ordinary_dispute(invoice, "2026-03-10")
        other = self.create_invoice(500, "2026-03-01")
        with freeze_time("2026-03-10"):
            self.env["collection.promise"].create(
                {
                    "move_line_ids": [Command.set(self.receivable_lines(other).ids)],
                    "date_promised": "2026-03-20",
                    "amount": 500,
                }
            )
        env = self.env(user=self.lawyer_a)
        for model in (
            "collection.dispute",
            "collection.dispute.line",
            "collection.promise",
            "collection.plan",
            "collection.plan.line",
        ):
            self.assertFalse(env[model].search([]), model)
        with self.assertRaises(AccessError):
            dispute.with_user(self.lawyer_a).write(
                {"outcome": "credit_note", "amount_settled": 900}
            )
        with self.assertRaises(AccessError):
            dispute.with_user(self.lawyer_a).action_reject()
        self.assertEqual(dispute.state, "open")

    @mute_logger(*ACCESS_LOGGERS)
    def test_lawyer_reads_not_closes_collector_dispute(self):
        """The lawyer of a case reads the customer's other disputes but closes
        only those handed over to them. A collector who is also a Legal user
        reads every dispute."""
        invoice = self.create_invoice(1000, "2024-01-01")
        self.hand_over(invoice)
        case = self.case_model.search([("partner_id", "=", self.customer.id)])
        lawyer = case.user_id
        other = self.create_invoice(800, "2024-03-01")
        dispute = self.open_ordinary_dispute(other, "2024-03-21")
        as_lawyer = dispute.with_user(lawyer)
        self.assertEqual(as_lawyer.amount_disputed, 800)
        with self.assertRaises(AccessError):
            as_lawyer.write({"outcome": "credit_note", "amount_settled": 800})
        with self.assertRaises(AccessError):
            as_lawyer.action_cancel()
        self.assertEqual(other.amount_residual, 800)

        self.collector.sudo().groups_id |= self.env.ref(
            "fast_collections.group_collection_legal"
        )
        third = self.open_ordinary_dispute(
            self.create_invoice(700, "2024-03-01", partner=self.other_customer),
            "2024-03-21",
        )
        disputes = self.env["collection.dispute"].with_user(self.collector).search([])
        self.assertIn(third, disputes)

    @mute_logger(*ACCESS_LOGGERS)
    def test_legal_reads_customer_invoices_of_case_company(self):
        """The lawyer reads the customer's invoices in the case's company,
        not its vendor bills nor its invoices in another company."""
        company_b = self.setup_other_company(name="Company B")["company"]
        self.lawyer_a.sudo().company_ids |= company_b
        invoice = self.create_invoice(1000, "2026-03-01")
        invoice_b = self.create_invoice(555, "2026-03-01", company=company_b)
        bill = self.init_invoice(
            "in_invoice", partner=self.customer, amounts=[42], post=True
        )
        self.open_dispute(invoice, "2026-03-10")
        moves = (
            self.env["account.move"]
            .with_user(self.lawyer_a)
            .with_context(allowed_company_ids=[self.company.id, company_b.id])
            .search([])
        )
        self.assertIn(invoice, moves)
        self.assertNotIn(bill, moves)
        self.assertNotIn(invoice_b, moves)
