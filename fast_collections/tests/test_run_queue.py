"""Tests of the run's batches as queue jobs. They need the queue_job addon
installed in the test database, and are skipped without it: scripts/test runs
them in a second database when queue_job is available."""

import unittest
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import collection_run, collection_run_batch
from .test_run_batches import RUN_DATE, RunBatchesCommon

try:
    from odoo.addons.queue_job.tests.common import trap_jobs
except ImportError:
    trap_jobs = None


@tagged("post_install", "-at_install", "fast_collections_queue")
class TestRunQueue(RunBatchesCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if trap_jobs is None or "queue.job" not in cls.env:
            raise unittest.SkipTest("the queue_job addon is not installed")

    def perform_all_jobs(self, trap):
        """Perform the trapped jobs, and the jobs they queue, until none is
        left: each batch job queues a job that closes the run."""
        with freeze_time(RUN_DATE):
            while trap.enqueued_jobs:
                trap.perform_enqueued_jobs()

    def start_queued_run(self):
        with patch.object(collection_run, "RUN_BATCH_SIZE", 3), freeze_time(RUN_DATE):
            return self.env["collection.run"]._enqueue_collections(
                run_date=RUN_DATE, companies=self.company
            )

    def test_scheduled_action_enqueues_batches(self):
        """With queue_job installed, the scheduled action creates a job per
        batch, each with its batch's identity key and the run's channel."""
        with trap_jobs() as trap:
            with (
                patch.object(collection_run, "RUN_BATCH_SIZE", 3),
                freeze_time(RUN_DATE),
            ):
                self.env["collection.run"]._cron_run_collections()
            run = self.env["collection.run"].search(
                [("company_id", "=", self.company.id)]
            )
            batches = run.batch_ids.sorted("sequence")

            trap.assert_jobs_count(3)
            for batch in batches:
                trap.assert_enqueued_job(
                    batch._run_as_job,
                    properties={
                        "identity_key": f"collection.run.batch:{batch.id}",
                        "channel": collection_run_batch.QUEUE_CHANNEL,
                    },
                )
        self.assertEqual(run.state, "running")
        self.assertEqual(run.attempt_ids.mode, "queue")
        self.assertEqual(batches.mapped("state"), ["pending"] * 3)
        self.assertFalse(self.notices_of(self.customers[0]))

    def test_batch_enqueued_twice_one_job(self):
        """Enqueuing the batches again while their jobs wait adds no job."""
        with trap_jobs() as trap:
            run = self.start_queued_run()
            run.batch_ids._enqueue()

            self.assertEqual(len(trap.calls), 6)
            trap.assert_jobs_count(3)

    def test_stored_job_per_batch(self):
        """Outside the trap, queue_job stores one job per batch identity key,
        however often the batches are enqueued."""
        run = self.start_queued_run()
        run.batch_ids._enqueue()

        for batch in run.batch_ids:
            jobs = (
                self.env["queue.job"]
                .sudo()
                .search([("identity_key", "=", batch._get_job_identity_key())])
            )
            self.assertEqual(len(jobs), 1, batch.sequence)
            self.assertEqual(jobs.state, "pending")

    def test_last_job_closes_run(self):
        """The jobs do their batches one by one, each queues a closing job,
        the one after the last batch closes the run, and the results are
        those of the run without queue."""
        with trap_jobs() as trap:
            run = self.start_queued_run()
            first_job, *other_jobs = trap.enqueued_jobs
            with freeze_time(RUN_DATE):
                first_job.perform()
            self.assertEqual(run.batch_ids.sorted("sequence")[0].state, "done")
            trap.assert_enqueued_job(
                run._close_as_job,
                properties={"channel": collection_run_batch.QUEUE_CHANNEL},
            )
            first_closing = trap.enqueued_jobs[-1]
            with freeze_time(RUN_DATE):
                first_closing.perform()
            self.assertEqual(run.state, "running")
            with freeze_time(RUN_DATE):
                for job in other_jobs:
                    job.perform()
            self.assertEqual(run.state, "running")
            self.perform_all_jobs(trap)

        self.assertEqual(run.state, "done")
        self.assertEqual(run.attempt_ids.mapped("state"), ["done"])
        self.assertEqual(run.batch_ids.mapped("state"), ["done"] * 3)
        self.assertEqual(run.notice_count, 9)
        self.assertEqual(run.message_count, 9)
        self.assertEqual(run.activity_count, 9)
        self.assertEqual(run.penalty_move_count, 9)
        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_queue_matches_direct_run(self):
        """The run through queue jobs counts what the run without queue
        counts on the same data."""
        savepoint = self.env.cr.savepoint()
        direct = self.run_in_batches()
        direct_counts = {
            name: direct[name] for name in collection_run.BATCH_COUNT_FIELDS
        }
        savepoint.close(rollback=True)
        self.env.invalidate_all()

        with trap_jobs() as trap:
            queued = self.start_queued_run()
            self.perform_all_jobs(trap)

        queued_counts = {
            name: queued[name] for name in collection_run.BATCH_COUNT_FIELDS
        }
        self.assertEqual(queued.state, "done")
        self.assertEqual(queued_counts, direct_counts)

    def test_job_of_done_batch_does_nothing(self):
        """A second job of a batch already done, such as one left by an
        interrupted attempt, does nothing."""
        with trap_jobs() as trap:
            run = self.start_queued_run()
            self.perform_all_jobs(trap)
            with freeze_time(RUN_DATE):
                run.batch_ids[0]._run_as_job()
            trap.assert_jobs_count(0)

        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_closing_jobs_close_once(self):
        """Of several closing jobs that find every batch done, the first
        closes the run and the others do nothing."""
        with trap_jobs() as trap:
            run = self.start_queued_run()
            batch_jobs = list(trap.enqueued_jobs)
            with freeze_time(RUN_DATE):
                for job in batch_jobs:
                    job.perform()
            closing_jobs = trap.enqueued_jobs[len(batch_jobs) :]
            self.assertEqual(len(closing_jobs), 3)
            self.assertEqual(run.state, "running")
            with freeze_time(RUN_DATE):
                closing_jobs[-1].perform()
            self.assertEqual(run.state, "done")
            date_end = run.date_end
            with freeze_time("2026-03-26"):
                for job in closing_jobs[:-1]:
                    job.perform()

        self.assertEqual(run.state, "done")
        self.assertEqual(run.date_end, date_end)
        self.assertEqual(run.attempt_ids.mapped("state"), ["done"])
        self.assertEqual(run.notice_count, 9)

    def test_failed_customer_recorded_by_job(self):
        """A job whose batch has a customer that cannot be charged records
        the failure on the batch, the other jobs still run, and the last one
        closes the run as failed with the counts of what was done. Queuing
        the run of that date again finishes the failed batch."""
        bad_customer = self.customers[3]
        account = self.company_data["default_account_receivable"].copy(
            {"code": "121099", "name": "Receivable Closed"}
        )
        bad_customer.property_account_receivable_id = account
        account.deprecated = True

        with trap_jobs() as trap:
            run = self.start_queued_run()
            with mute_logger("odoo.addons.fast_collections.models.collection_run"):
                self.perform_all_jobs(trap)

        batches = run.batch_ids.sorted("sequence")
        self.assertEqual(batches.mapped("state"), ["done", "failed", "done"])
        self.assertIn(bad_customer.name, batches[1].error_message)
        self.assertEqual(run.state, "failed")
        self.assertEqual(run.attempt_ids.mapped("state"), ["failed"])
        self.assertEqual(run.notice_count, 8)
        self.assertEqual(run.penalty_move_count, 8)

        account.deprecated = False
        with trap_jobs() as trap:
            resumed = self.start_queued_run()
            trap.assert_jobs_count(1)
            self.assertEqual(run.state, "running")
            self.assertEqual(batches[1].state, "pending")
            self.perform_all_jobs(trap)

        self.assertEqual(resumed, run)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.attempt_ids.mapped("state"), ["failed", "done"])
        self.assertEqual(run.notice_count, 9)
        self.assertEqual(run.penalty_move_count, 9)
        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )
