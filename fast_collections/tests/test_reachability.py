from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import CollectionCommon


class ReachabilityCommon(CollectionCommon):
    """Helpers shared by the tests of unreached, skipped and approved items."""

    def mails_of(self, notices):
        """Return the emails queued for ``notices``, for any recipient."""
        return self.env["mail.mail"].search(
            [("model", "=", "collection.notice"), ("res_id", "in", notices.ids)]
        )

    def run_on(self, run_date, partners=None):
        """Run the collection on ``run_date``, with today frozen on that date."""
        with freeze_time(run_date):
            return self.run_collection(run_date, partners=partners)


@tagged("post_install", "-at_install")
class TestNotReached(ReachabilityCommon):
    """Customers whose email cannot be sent.

    One customer has no email address, the other's address is blacklisted.
    Each owes 1,000 due 1 March 2024, and the run of 10 March sends them the
    first reminder.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        partner_model = cls.env["res.partner"]
        cls.no_email_customer = partner_model.create(
            {"name": "Silent Buyer Ltd", "is_company": True}
        )
        cls.blocked_customer = partner_model.create(
            {
                "name": "Blocked Buyer Ltd",
                "is_company": True,
                "email": "ap@blocked-buyer.example.com",
            }
        )
        cls.env["mail.blacklist"].create({"email": "ap@blocked-buyer.example.com"})
        cls.no_email_invoice = cls.create_invoice(
            1000, "2024-03-01", partner=cls.no_email_customer
        )
        cls.blocked_invoice = cls.create_invoice(
            1000, "2024-03-01", partner=cls.blocked_customer
        )
        with freeze_time("2024-03-10"):
            cls.collection_run = cls.env["collection.run"]._run_collections(
                run_date=date(2024, 3, 10), companies=cls.company
            )
        notices_by_partner = cls.collection_run.notice_ids.grouped("partner_id")
        cls.no_email_notice = notices_by_partner[cls.no_email_customer]
        cls.blocked_notice = notices_by_partner[cls.blocked_customer]

    def test_no_email_queued(self):
        """No email is queued for either customer."""
        notices = self.no_email_notice | self.blocked_notice
        self.assertEqual(len(notices), 2)
        self.assertFalse(self.mails_of(notices))
        self.assertFalse(self.outgoing_mails_to(self.blocked_customer))

    def test_customer_without_email_not_reached(self):
        """The notice of the customer without email is marked not reached."""
        notice = self.no_email_notice
        self.assertEqual(notice.email_state, "not_reached")
        self.assertIn("Silent Buyer Ltd", notice.not_reached_reason)
        self.assertIn("no email address", notice.not_reached_reason)

    def test_blacklisted_customer_not_reached(self):
        """The notice of the blacklisted customer is marked not reached."""
        notice = self.blocked_notice
        self.assertEqual(notice.email_state, "not_reached")
        self.assertIn("ap@blocked-buyer.example.com", notice.not_reached_reason)
        self.assertIn("blocked", notice.not_reached_reason)

    def test_invalid_address_not_reached(self):
        """A customer whose address is not a valid email is not reached."""
        customer = self.env["res.partner"].create(
            {"name": "Typo Buyer Ltd", "email": "accounts at typo-buyer"}
        )
        self.create_invoice(1000, "2024-03-01", partner=customer)

        run = self.run_on("2024-03-10", partners=customer)

        self.assertEqual(run.notice_ids.email_state, "not_reached")
        self.assertIn("accounts at typo-buyer", run.notice_ids.not_reached_reason)
        self.assertFalse(self.mails_of(run.notice_ids))

    def test_history_not_reached(self):
        """The first reminder of both items is recorded as not reached."""
        for invoice in (self.no_email_invoice, self.blocked_invoice):
            history = invoice.collection_history_ids.filtered(
                lambda row: row.stage_id == self.stage_first
            )
            with self.subTest(invoice=invoice.partner_id.name):
                self.assertEqual(history.state, "not_reached")
                self.assertTrue(history.reason)

    def test_items_show_reach_issue(self):
        """Each item shows why its last notice did not reach the customer."""
        cases = [
            (self.no_email_invoice, self.no_email_notice),
            (self.blocked_invoice, self.blocked_notice),
        ]
        for invoice, notice in cases:
            item = self.receivable_lines(invoice)
            with self.subTest(invoice=invoice.partner_id.name):
                self.assertTrue(item.collection_reach_issue)
                self.assertEqual(item.collection_reach_issue, notice.not_reached_reason)

    def test_run_counts_not_reached(self):
        """The run counts two customers not reached and no email queued."""
        self.assertEqual(self.collection_run.notice_count, 2)
        self.assertEqual(self.collection_run.not_reached_count, 2)
        self.assertEqual(self.collection_run.message_count, 0)

    def test_fixed_email_same_stage_not_resent(self):
        """Once the email is fixed, the first reminder is not sent again."""
        self.no_email_customer.email = "ap@silent-buyer.example.com"

        run = self.run_on("2024-03-12", partners=self.no_email_customer)

        self.assertFalse(run.notice_ids)
        self.assertEqual(self.notices_of(self.no_email_customer), self.no_email_notice)
        self.assertFalse(self.outgoing_mails_to(self.no_email_customer))

    def test_next_stage_reaches_fixed_customer(self):
        """The second reminder reaches the fixed address and clears the issue."""
        self.no_email_customer.email = "ap@silent-buyer.example.com"

        run = self.run_on("2024-03-25", partners=self.no_email_customer)

        notice = run.notice_ids
        self.assertEqual(notice.stage_id, self.stage_second)
        self.assertEqual(notice.email_state, "sent")
        self.assertEqual(len(self.outgoing_mails_to(self.no_email_customer)), 1)
        self.assertFalse(
            self.receivable_lines(self.no_email_invoice).collection_reach_issue
        )
        self.assertEqual(run.not_reached_count, 0)

    def test_unblocked_customer_reached(self):
        """Removing the address from the blacklist lets the next stage reach it."""
        self.env["mail.blacklist"].search(
            [("email", "=", "ap@blocked-buyer.example.com")]
        ).action_archive()

        self.run_on("2024-03-25", partners=self.blocked_customer)

        self.assertEqual(len(self.outgoing_mails_to(self.blocked_customer)), 1)
        self.assertFalse(
            self.receivable_lines(self.blocked_invoice).collection_reach_issue
        )


@tagged("post_install", "-at_install")
class TestSkipReasons(ReachabilityCommon):
    """Items left alone by a run, and counted under the reason why.

    Each test bills the customer with invoices due 1 March 2024, which are
    due for the first reminder from 8 March on.
    """

    def test_below_tolerance_skipped(self):
        """An item of 30 under a tolerance of 50 is not chased."""
        self.policy.tolerance_amount = 50.0
        invoice = self.create_invoice(30, "2024-03-01")

        run = self.run_on("2024-03-10")

        self.assertFalse(invoice.collection_stage_id)
        self.assertFalse(run.notice_ids)
        self.assertEqual(run.skipped_count, 1)
        self.assertIn("below the policy's tolerance: 1", run.skip_summary)

    def test_equal_to_tolerance_chased(self):
        """An item of exactly 50 under a tolerance of 50 is chased."""
        self.policy.tolerance_amount = 50.0
        invoice = self.create_invoice(50, "2024-03-01")

        run = self.run_on("2024-03-10")

        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        self.assertEqual(run.skipped_count, 0)

    def test_tolerance_applies_per_item(self):
        """Of items of 30 and 1,000 under a tolerance of 50, only 1,000 is
        chased and listed."""
        self.policy.tolerance_amount = 50.0
        small = self.create_invoice(30, "2024-03-01")
        large = self.create_invoice(1000, "2024-03-01")

        run = self.run_on("2024-03-10")

        self.assertFalse(small.collection_stage_id)
        self.assertEqual(large.collection_stage_id, self.stage_first)
        self.assertEqual(run.notice_ids.line_ids.move_id, large)

    def test_on_hold_skipped(self):
        """A customer not to be chased until 15 March is left alone that day."""
        self.customer.write(
            {
                "collection_hold_until": "2024-03-15",
                "collection_hold_reason": "Bank transfer announced",
            }
        )
        invoice = self.create_invoice(1000, "2024-03-01")

        run = self.run_on("2024-03-15")

        self.assertFalse(invoice.collection_stage_id)
        self.assertFalse(run.notice_ids)
        self.assertEqual(run.skipped_count, 1)
        self.assertIn(
            "customer not to be chased until a later date: 1", run.skip_summary
        )

    def test_chased_day_after_hold(self):
        """The customer on hold until 15 March is chased on 16 March."""
        self.customer.write(
            {
                "collection_hold_until": "2024-03-15",
                "collection_hold_reason": "Bank transfer announced",
            }
        )
        invoice = self.create_invoice(1000, "2024-03-01")
        self.run_on("2024-03-15")

        run = self.run_on("2024-03-16")

        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        self.assertEqual(len(run.notice_ids), 1)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)


@tagged("post_install", "-at_install")
class TestApproval(ReachabilityCommon):
    """A policy whose stage changes wait for a collections manager.

    The customer owes 1,000 due 1 March 2024. The run of 10 March moves the
    invoice to the first reminder, which waits for approval.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy.require_approval = True
        cls.manager = new_test_user(
            cls.env,
            login="mona.manager",
            name="Mona Manager",
            groups="base.group_user,fast_collections.group_collection_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.invoice = cls.create_invoice(1000, "2024-03-01")
        with freeze_time("2024-03-10"):
            cls.collection_run = cls.env["collection.run"]._run_collections(
                run_date=date(2024, 3, 10), companies=cls.company
            )
        cls.waiting = cls.invoice.collection_history_ids.filtered(
            lambda history: history.state == "to_approve"
        )

    def _approve(self):
        with freeze_time("2024-03-10"):
            self.waiting.with_user(self.manager).action_approve()

    def test_no_notice_before_approval(self):
        """Before approval, the stage change waits and no notice is made."""
        self.assertEqual(self.waiting.stage_id, self.stage_first)
        self.assertFalse(self.notices_of())
        self.assertFalse(self.outgoing_mails_to(self.customer))

    def test_waiting_counted_in_run(self):
        """The run counts the stage change under the reason it waits."""
        self.assertEqual(self.collection_run.notice_count, 0)
        self.assertIn(
            "stage change waiting for a manager's approval: 1",
            self.collection_run.skip_summary,
        )

    def test_rerun_before_approval_sends_nothing(self):
        """Running again before approval still makes no notice."""
        run = self.run_on("2024-03-11")
        self.assertFalse(run.notice_ids)
        self.assertFalse(self.notices_of())

    def test_approval_sends_one_notice(self):
        """Approving makes exactly one notice and queues exactly one email."""
        self._approve()
        self.assertEqual(len(self.notices_of()), 1)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)
        self.assertEqual(self.waiting.state, "done")

    def test_rerun_after_approval_sends_nothing(self):
        """A run after the approval makes no second notice for the stage."""
        self._approve()
        self.run_on("2024-03-11")
        self.assertEqual(len(self.notices_of()), 1)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)
