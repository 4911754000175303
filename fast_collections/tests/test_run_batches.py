from collections import Counter
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models import collection_run
from .common import CollectionCommon

RUN_DATE = "2026-03-25"


class RunBatchesCommon(CollectionCommon):
    """Nine customers with an invoice of 100 due 1 March 2026, run on 25 March
    in batches of three. The second reminder (+21) queues an email, plans a
    call, and charges a fee of 10 and interest at 10%, so each customer gets
    one notice, one email, one activity, one interest and fee invoice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        collector = new_test_user(
            cls.env,
            login="bea.collector",
            name="Bea Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.company.write(
            {
                "collection_penalty_product_id": cls.product_a.id,
                "collection_penalty_account_id": (
                    cls.company_data["default_account_revenue"].id
                ),
                "collection_user_id": collector.id,
            }
        )
        cls.policy.interest_scheme_id = cls.env["collection.interest.scheme"].create(
            {"name": "Contract 10%", "scheme_type": "contractual", "annual_rate": 10}
        )
        cls.stage_second.write(
            {"charge_interest": True, "fee_type": "fixed", "fee_amount": 10}
        )
        cls.customers = cls.env["res.partner"].create(
            [
                {
                    "name": f"Batch Debtor {number}",
                    "is_company": True,
                    "email": f"debtor{number}@batch.example.com",
                }
                for number in range(9)
            ]
        )
        for customer in cls.customers:
            cls.create_invoice(100, "2026-03-01", partner=customer)

    def run_in_batches(self, run_date=RUN_DATE):
        with patch.object(collection_run, "RUN_BATCH_SIZE", 3), freeze_time(run_date):
            return self.run_collection(run_date)

    def penalty_invoices_of(self, customer):
        return self.env["account.move"].search(
            [
                ("collection_is_penalty", "=", True),
                ("move_type", "=", "out_invoice"),
                ("partner_id", "=", customer.id),
            ]
        )

    def count_actions(self, customer):
        """Count what the runs did for ``customer``, by kind and stage."""
        notices = self.notices_of(customer)
        counts = Counter()
        for notice in notices:
            counts["notice", notice.stage_id.name] += 1
        messages = self.env["mail.message"].search(
            [
                ("model", "=", "collection.notice"),
                ("res_id", "in", notices.ids),
                ("message_type", "=", "comment"),
            ]
        )
        counts["message"] = len(messages)
        counts["mail"] = len(self.outgoing_mails_to(customer))
        counts["activity"] = len(
            self.env["mail.activity"].search(
                [("res_model", "=", "collection.notice"), ("res_id", "in", notices.ids)]
            )
        )
        counts["penalty invoice"] = len(self.penalty_invoices_of(customer))
        charges = self.env["collection.penalty"].search(
            [("move_line_id.partner_id", "=", customer.id)]
        )
        for charge in charges:
            counts[charge.kind, charge.stage_id.name] += 1
        return counts

    def expected_actions(self):
        stage = self.stage_second.name
        return Counter(
            {
                ("notice", stage): 1,
                "message": 1,
                "mail": 1,
                "activity": 1,
                "penalty invoice": 1,
                ("fee", stage): 1,
                ("interest", stage): 1,
            }
        )


@tagged("post_install", "-at_install")
class TestRunBatches(RunBatchesCommon):
    def test_batches_of_customers(self):
        """Nine customers in batches of three: three batches done by the
        first attempt, and the run's counters add up the batches."""
        run = self.run_in_batches()

        batches = run.batch_ids.sorted("sequence")
        self.assertEqual(batches.mapped("partner_count"), [3, 3, 3])
        self.assertEqual(batches.partner_ids, self.customers)
        self.assertEqual(batches.mapped("state"), ["done"] * 3)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.attempt_ids.mapped("state"), ["done"])
        self.assertEqual(run.item_count, 9)
        self.assertEqual(run.changed_count, 9)
        self.assertEqual(run.notice_count, 9)
        self.assertEqual(run.message_count, 9)
        self.assertEqual(run.activity_count, 9)
        self.assertEqual(run.penalty_move_count, 9)
        self.assertEqual(sum(batches.mapped("notice_count")), 9)
        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_failed_batch_resumes_once(self):
        """C20: a customer of the second of three batches fails after its
        notice and charges, so its work is rolled back while the other
        customers of the batch are done one at a time. Running the same date
        again resumes the run as a second attempt that does only that batch,
        and no customer is emailed or charged twice.

        The failure is raised by the run's own hand-over step, patched on the
        model class for the failing customer.
        """
        run_class = type(self.env["collection.run"])
        hand_over = run_class._hand_over_to_legal
        failing_customer = self.customers[4]

        def hand_over_or_fail(run, partners):
            if failing_customer in partners:
                raise RuntimeError("Simulated crash in the second batch")
            return hand_over(run, partners)

        # Not assertRaises, which rolls back to a savepoint: the batches done
        # before the error must stay, as they would be committed.
        caught = None
        with (
            patch.object(run_class, "_hand_over_to_legal", hand_over_or_fail),
            mute_logger("odoo.addons.fast_collections.models.collection_run"),
        ):
            try:
                self.run_in_batches()
            except RuntimeError as error:
                caught = error
        self.assertIn("Simulated crash", str(caught))

        run = self.env["collection.run"].search([("company_id", "=", self.company.id)])
        batches = run.batch_ids.sorted("sequence")
        self.assertEqual(run.state, "failed")
        self.assertIn("Simulated crash", run.error_message)
        self.assertEqual(batches.mapped("state"), ["done", "failed", "done"])
        self.assertIn(failing_customer.name, batches[1].error_message)
        self.assertEqual(run.notice_count, 8)
        self.assertEqual(run.penalty_move_count, 8)
        self.assertEqual(self.count_actions(failing_customer), Counter())
        for customer in self.customers - failing_customer:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

        resumed = self.run_in_batches()

        self.assertEqual(resumed.id, run.id)
        self.assertEqual(run.state, "done")
        self.assertFalse(run.error_message)
        self.assertEqual(run.attempt_ids.mapped("state"), ["failed", "done"])
        self.assertIn("Simulated crash", run.attempt_ids[0].error_message)
        self.assertEqual(batches.mapped("state"), ["done"] * 3)
        self.assertEqual([batch.attempt_id.number for batch in batches], [1, 2, 1])
        self.assertEqual(run.notice_count, 9)
        self.assertEqual(run.message_count, 9)
        self.assertEqual(run.penalty_move_count, 9)
        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_bad_account_blocks_its_customer_only(self):
        """A customer whose interest and fee invoice cannot be posted (its
        receivable account is deprecated) fails alone: the other customers
        of its batch get their notice, and the error names the customer."""
        bad_customer = self.customers[3]
        account = self.company_data["default_account_receivable"].copy(
            {"code": "121099", "name": "Receivable Closed"}
        )
        bad_customer.property_account_receivable_id = account
        account.deprecated = True

        caught = None
        with mute_logger("odoo.addons.fast_collections.models.collection_run"):
            try:
                self.run_in_batches()
            except UserError as error:
                caught = error
        self.assertTrue(caught)

        run = self.env["collection.run"].search([("company_id", "=", self.company.id)])
        batches = run.batch_ids.sorted("sequence")
        self.assertEqual(batches.mapped("state"), ["done", "failed", "done"])
        self.assertIn(bad_customer.name, batches[1].error_message)
        self.assertEqual(run.notice_count, 8)
        self.assertEqual(self.count_actions(bad_customer), Counter())
        for customer in self.customers - bad_customer:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_done_run_not_resumed(self):
        """A run that ended is not resumed: the same date runs anew and finds
        nothing left to send or charge."""
        first = self.run_in_batches()

        second = self.run_in_batches()

        self.assertNotEqual(second.id, first.id)
        self.assertEqual(second.notice_count, 0)
        self.assertEqual(second.message_count, 0)
        self.assertEqual(second.penalty_move_count, 0)
        for customer in self.customers:
            self.assertEqual(
                self.count_actions(customer), self.expected_actions(), customer.name
            )

    def test_customers_without_work_left_out(self):
        """A customer with nothing owed is in no batch, and a customer on
        credit hold who paid everything is, so that the hold is lifted."""
        idle = self.env["res.partner"].create({"name": "Idle Customer"})
        held_customer = self.env["res.partner"].create({"name": "Held Customer"})
        held_customer.with_company(self.company).sudo().collection_credit_hold = True

        run = self.run_in_batches()

        self.assertNotIn(idle, run.batch_ids.partner_ids)
        self.assertIn(held_customer, run.batch_ids.partner_ids)
        self.assertFalse(
            held_customer.with_company(self.company).collection_credit_hold
        )

    def test_helpers_limited_to_batch(self):
        """Inside a batch, the paused items and the disputed amounts are
        looked up for the batch's customers only."""
        first, second = self.customers[:2]
        lines = self.env["account.move.line"].search(
            [
                ("partner_id", "in", (first + second).ids),
                ("account_id.account_type", "=", "asset_receivable"),
            ]
        )
        lines.sudo().write({"collection_claim_reference": "CLAIM-1"})
        run = self.run_in_batches()

        batch_run = run.with_context(collection_batch_partner_ids=(first.id,))
        paused = batch_run._get_paused_line_ids()

        first_line = lines.filtered(lambda line: line.partner_id == first)
        self.assertEqual(paused, {first_line.id: "legal_claim"})
        self.assertEqual(len(run._get_paused_line_ids()), 2)
