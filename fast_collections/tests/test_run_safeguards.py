from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestNoticeSending(CollectionCommon):
    def _comment_of(self, notice):
        return notice.message_ids.filtered(
            lambda message: message.message_type == "comment"
        )

    def test_email_sent_as_company(self):
        """The reminder is written by the company, from the company's address."""
        self.company.email = "billing@company.example.com"
        self.create_invoice(400, "2025-03-01")

        notice = self.run_collection("2025-03-20").notice_ids

        message = self._comment_of(notice)
        self.assertEqual(message.author_id, self.company.partner_id)
        self.assertIn("billing@company.example.com", message.email_from)

    def test_credits_covering_debt_send_nothing(self):
        """An open credit note of 150 against 100 overdue: no reminder."""
        self.create_invoice(100, "2025-03-01")
        self.create_invoice(150, "2025-03-02", move_type="out_refund")

        run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        self.assertEqual(notice.email_state, "not_needed")
        self.assertEqual(notice.letter_state, "none")
        self.assertFalse(self.outgoing_mails_to(self.customer))
        self.assertEqual(run.message_count, 0)

    def test_courtesy_notice_asks_upcoming_amount(self):
        """A courtesy reminder for 500 due in two days requests 500."""
        self.create_invoice(500, "2025-03-22")

        notice = self.run_collection("2025-03-20").notice_ids

        self.assertEqual(notice.stage_id, self.stage_courtesy)
        totals = notice._get_currency_totals()[0]
        self.assertEqual(totals["overdue"], 0)
        self.assertEqual(totals["upcoming"], 500)
        self.assertEqual(totals["net"], 500)
        self.assertIn("500.00", self._comment_of(notice).body)

    def test_interval_between_notices(self):
        """Seven days between notices: a change three days after a notice
        waits and goes out a week after the first notice."""
        self.assertEqual(self.policy.notice_interval_days, 7)
        self.create_invoice(100, "2025-03-01")
        later = self.create_invoice(200, "2025-03-04")
        self.run_collection("2025-03-08")

        waiting_run = self.run_collection("2025-03-11")

        self.assertEqual(waiting_run.changed_count, 1)
        self.assertFalse(waiting_run.notice_ids)
        later_change = later.collection_history_ids.filtered(
            lambda row: row.stage_id == self.stage_first
        )
        self.assertEqual(later_change.state, "pending")

        sending_run = self.run_collection("2025-03-15")

        self.assertIn(later, sending_run.notice_ids.line_ids.move_id)
        self.assertEqual(later_change.state, "done")
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 2)

    def test_contact_without_email_falls_back(self):
        """Invoices to a contact with no email: the company receives the email."""
        contact = self.env["res.partner"].create(
            {"name": "Accounts Desk", "parent_id": self.customer.id, "type": "invoice"}
        )
        self.create_invoice(300, "2025-03-01", partner=contact)

        notice = self.run_collection("2025-03-20").notice_ids

        self.assertEqual(notice.contact_id, self.customer)
        self.assertEqual(notice.email_state, "sent")


@tagged("post_install", "-at_install")
class TestActivityAssignee(CollectionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.default_collector = new_test_user(
            cls.env,
            login="default.collector",
            groups="base.group_user,fast_collections.group_collection_user",
        )

    def test_default_collector_gets_activity(self):
        """A customer without collector: the company's default collector is
        assigned the second reminder's call."""
        self.company.collection_user_id = self.default_collector
        self.create_invoice(400, "2025-03-01")

        notice = self.run_collection("2025-03-25").notice_ids

        self.assertEqual(notice.stage_id, self.stage_second)
        self.assertEqual(notice.activity_ids.user_id, self.default_collector)

    def test_no_collector_no_activity(self):
        """No collector to assign: no activity, and a warning in the log."""
        self.company.collection_user_id = False
        self.create_invoice(400, "2025-03-01")

        with mute_logger("odoo.addons.fast_collections.models.collection_notice"):
            notice = self.run_collection("2025-03-25").notice_ids

        self.assertFalse(notice.activity_ids)
        self.assertEqual(notice.email_state, "sent")


@tagged("post_install", "-at_install")
class TestOutdatedStageChanges(CollectionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy.require_approval = True

    def _waiting_change(self, invoice):
        self.run_collection("2025-03-20")
        change = invoice.collection_history_ids.filtered(
            lambda row: row.state == "to_approve"
        )
        self.assertEqual(len(change), 1)
        return change

    def test_paid_before_approval_cancelled(self):
        """Paid in full before the manager approves: no reminder goes out."""
        invoice = self.create_invoice(1000, "2025-03-01")
        change = self._waiting_change(invoice)
        self.pay_invoice(invoice, 1000, "2025-03-21")

        change.action_approve()

        self.assertEqual(change.state, "cancelled")
        self.assertFalse(self.notices_of())
        self.assertFalse(self.outgoing_mails_to(self.customer))

    def test_on_hold_before_approval_waits(self):
        """Put on hold before approval: the change waits until the hold ends."""
        invoice = self.create_invoice(1000, "2025-03-01")
        change = self._waiting_change(invoice)
        self.customer.write(
            {
                "collection_hold_until": "2099-12-31",
                "collection_hold_reason": "Agreed to pay after the audit",
            }
        )

        change.action_approve()

        self.assertEqual(change.state, "pending")
        self.assertFalse(self.notices_of())

    def test_policy_switch_cancels_waiting_change(self):
        """A change left waiting under the old policy is cancelled after a
        switch to another policy, which then applies its own stage."""
        invoice = self.create_invoice(1000, "2025-03-01")
        change = self._waiting_change(invoice)
        gentle = self.policy.copy({"name": "Gentle", "require_approval": False})
        self.customer.with_company(self.company).collection_policy_id = gentle

        change.action_approve()

        self.assertEqual(change.state, "cancelled")
        notice = self.notices_of()
        self.assertEqual(notice.stage_id.policy_id, gentle)
        self.assertNotIn(change, notice.history_ids)


@tagged("post_install", "-at_install")
class TestConfigurationSafeguards(CollectionCommon):
    def test_archived_policy_falls_back_to_default(self):
        """A customer on an archived policy is chased by the company default."""
        archived = self.policy.copy({"name": "Old terms"})
        self.customer.with_company(self.company).collection_policy_id = archived
        archived.active = False
        invoice = self.create_invoice(400, "2025-03-01")

        self.run_collection("2025-03-20")

        self.assertEqual(invoice.collection_history_ids.policy_id, self.policy)

    def test_used_stage_offset_frozen(self):
        """The offset of a stage already applied cannot change."""
        self.create_invoice(400, "2025-03-01")
        self.run_collection("2025-03-20")

        with self.assertRaises(UserError):
            self.stage_first.offset_days = 50
        self.stage_first.name = "First reminder (renamed)"
        self.assertEqual(self.stage_first.offset_days, 7)

    def test_day_counts_bounded(self):
        """Offsets and deadlines beyond ten years are rejected."""
        with self.assertRaises(ValidationError):
            self.stage_legal.offset_days = -3_000_000
        with self.assertRaises(ValidationError):
            self.stage_second.activity_deadline_days = 10**8

    def test_used_template_cannot_be_deleted(self):
        """A template that a stage sends cannot be deleted."""
        template = self.stage_first.mail_template_id
        with self.assertRaises(UserError):
            template.unlink()

    def test_default_policy_cannot_be_deleted(self):
        """The company default policy and a used policy cannot be deleted."""
        with self.assertRaises(UserError):
            self.policy.unlink()
        used = self.policy.copy({"name": "Used"})
        self.customer.with_company(self.company).collection_policy_id = used
        self.create_invoice(400, "2025-03-01")
        self.run_collection("2025-03-20")
        with self.assertRaises(UserError):
            used.unlink()

    def test_contact_of_other_customer_rejected(self):
        """A contact of another customer cannot receive this customer's notices."""
        stranger = self.env["res.partner"].create(
            {
                "name": "Other Co",
                "is_company": True,
                "child_ids": [Command.create({"name": "Other Contact"})],
            }
        )
        with self.assertRaises(ValidationError):
            self.customer.collection_contact_id = stranger.child_ids

    def test_hold_needs_reason(self):
        """A "do not chase until" date without a reason is rejected."""
        with self.assertRaises(ValidationError):
            self.customer.collection_hold_until = "2025-12-31"

    def test_blank_names_rejected(self):
        """A policy or a stage named with spaces only is rejected."""
        with self.assertRaises(ValidationError):
            self.policy.name = "   "
        with self.assertRaises(ValidationError):
            self.stage_first.name = "   "

    def test_collector_cannot_rewrite_notice(self):
        """A collector marks a letter printed but cannot move a notice."""
        collector = new_test_user(
            self.env,
            login="notice.collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_ids=[Command.set(self.company.ids)],
            company_id=self.company.id,
        )
        self.create_invoice(400, "2025-01-01")
        notice = self.run_collection("2025-02-20").notice_ids
        self.assertEqual(notice.letter_state, "to_print")

        notice.with_user(collector).action_mark_printed()
        self.assertEqual(notice.letter_state, "printed")
        with self.assertRaises(AccessError):
            notice.with_user(collector).write({"email_state": "none"})
