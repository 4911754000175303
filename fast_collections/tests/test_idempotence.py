from datetime import date
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models import collection_run
from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestIdempotentRun(CollectionCommon):
    """C20: a run cut halfway and run again acts once per customer and stage."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [
                {"name": f"Debtor {number:02d}", "email": f"debtor{number}@example.com"}
                for number in range(30)
            ]
        )
        for customer in cls.customers:
            cls.create_invoice(100, "2025-03-01", partner=customer)

    def test_interrupted_run_resumes_without_resending(self):
        """30 customers in batches of 10, and the first attempt stops after one
        batch, as a killed process would. Running the same date again resumes
        the run as a second attempt, which notifies the other 20, and no
        customer gets two emails."""
        with patch.object(collection_run, "RUN_BATCH_SIZE", 10):
            run, attempt = (
                self.env["collection.run"]
                .sudo()
                ._start_attempt(self.company, date(2025, 3, 20), None, "direct")
            )
            run._prepare_batches_or_fail(None, attempt, commit=False)
            batches = run.batch_ids.sorted("sequence")
            self.assertEqual(batches.mapped("partner_count"), [10, 10, 10])
            run._process_batch(batches[0], attempt)
            self.assertEqual(run.notice_count, 10)

            resumed = self.run_collection("2025-03-20")

        self.assertEqual(resumed.id, run.id)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.attempt_ids.mapped("state"), ["interrupted", "done"])
        self.assertEqual([batch.attempt_id.number for batch in batches], [1, 2, 2])
        self.assertEqual(run.changed_count, 30)
        self.assertEqual(run.notice_count, 30)
        self.assertEqual(run.message_count, 30)
        for customer in self.customers:
            self.assertEqual(len(self.outgoing_mails_to(customer)), 1, customer.name)
            self.assertEqual(len(self.notices_of(customer)), 1, customer.name)

    def test_other_date_marks_run_interrupted(self):
        """A run left running on one date is marked interrupted by the run of
        the next date, which notifies the customers left over."""
        with patch.object(collection_run, "RUN_BATCH_SIZE", 10):
            run, attempt = (
                self.env["collection.run"]
                .sudo()
                ._start_attempt(self.company, date(2025, 3, 20), None, "direct")
            )
            run._prepare_batches_or_fail(None, attempt, commit=False)
            run._process_batch(run.batch_ids.sorted("sequence")[0], attempt)

            next_run = self.run_collection("2025-03-21")

        self.assertNotEqual(next_run.id, run.id)
        self.assertEqual(run.state, "interrupted")
        self.assertEqual(attempt.state, "interrupted")
        self.assertEqual(next_run.notice_count, 20)
        for customer in self.customers:
            self.assertEqual(len(self.notices_of(customer)), 1, customer.name)

    def test_repeated_runs_same_day(self):
        """Three runs on one day send 30 emails in all, then nothing."""
        runs = [self.run_collection("2025-03-20") for _attempt in range(3)]

        self.assertEqual([run.message_count for run in runs], [30, 0, 0])
        mails = self.env["mail.mail"].search(
            [("recipient_ids", "in", self.customers.ids)]
        )
        self.assertEqual(len(mails), 30)

    def test_next_stage_sends_again(self):
        """The same customers reach the second reminder later: one more email."""
        self.run_collection("2025-03-20")
        second = self.run_collection("2025-03-27")

        self.assertEqual(second.changed_count, 30)
        self.assertEqual(second.message_count, 30)
        for customer in self.customers[:3]:
            self.assertEqual(len(self.outgoing_mails_to(customer)), 2)

    def test_concurrent_run_is_rejected(self):
        """While another session runs the company, a second run is rejected."""
        with self.env.registry.cursor() as other_cursor:
            other_cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [collection_run.RUN_LOCK_KEY, self.company.id],
            )
            with self.assertRaises(UserError):
                self.run_collection("2025-03-20")
            other_cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)",
                [collection_run.RUN_LOCK_KEY, self.company.id],
            )

        run = self.run_collection("2025-03-20")
        self.assertEqual(run.message_count, 30)
