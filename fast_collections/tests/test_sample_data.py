from datetime import date, timedelta
from decimal import Decimal

from odoo.tests import tagged

from ..tools.sample_loader import (
    DISPUTE_REASON_NAME,
    SAMPLE_PATH,
    expected_figures,
    load_sample,
    read_sample,
)
from .common import CollectionCommon

AS_OF = date(2013, 6, 30)


@tagged("post_install", "-at_install")
class TestSampleData(CollectionCommon):
    """The public receivables sample, loaded as of 30 June 2013 and run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rows = read_sample(SAMPLE_PATH)
        cls.rows = rows
        cls.summary = load_sample(cls.env, rows, AS_OF, company=cls.company)
        cls.collection_run = cls.env["collection.run"]._run_collections(
            run_date=AS_OF, companies=cls.company
        )
        offsets = cls.policy.stage_ids.mapped("offset_days")
        cls.expected = expected_figures(rows, AS_OF, offsets)
        cls.open_lines = cls.env["account.move.line"].search(
            [
                ("company_id", "=", cls.company.id),
                ("move_id.move_type", "=", "out_invoice"),
                ("parent_state", "=", "posted"),
                ("account_id.account_type", "=", "asset_receivable"),
                ("reconciled", "=", False),
            ]
        )
        cls.open_disputes = cls.env["collection.dispute"].search(
            [("company_id", "=", cls.company.id), ("state", "=", "open")]
        )
        cls.disputed_lines = cls.open_disputes.line_ids.move_line_id

    def _total(self, lines):
        return Decimal(str(round(sum(lines.mapped("amount_residual")), 2)))

    def _disputed_open_rows(self):
        return [
            row
            for row in self.rows
            if row.disputed and row.invoice_date <= AS_OF < row.settled_date
        ]

    def test_loaded_invoices_and_payments(self):
        """Every invoice issued by the date is posted, every one settled by it
        is paid."""
        issued = (
            sum(total.count for total in self.expected.stages.values())
            + self.expected.disputed_invoices.count
            + self.summary.payments_registered
        )
        self.assertEqual(self.summary.invoices_posted, issued)
        self.assertEqual(self.summary.due_dates_overridden, 0)

    def test_open_invoices_match_csv(self):
        """Open invoices: issued on or before the date and settled after it."""
        self.assertEqual(len(self.open_lines), self.expected.open_invoices.count)
        self.assertEqual(
            self._total(self.open_lines), self.expected.open_invoices.amount
        )

    def test_overdue_invoices_match_csv(self):
        """Overdue invoices: open and due before the date."""
        overdue = self.open_lines.filtered(lambda line: line.date_maturity < AS_OF)
        self.assertEqual(len(overdue), self.expected.overdue_invoices.count)
        self.assertEqual(self._total(overdue), self.expected.overdue_invoices.amount)

    def test_stages_match_csv(self):
        """Each open invoice is at the highest stage its delay reaches.

        An invoice already past its due date but not yet at the first reminder
        has no stage: the courtesy reminder is only for invoices not yet due.
        """
        expected = dict(self.expected.stages)
        courtesy_offset = self.stage_courtesy.offset_days
        past_due_courtesy = [
            line
            for line in self.open_lines - self.disputed_lines
            if line.date_maturity < AS_OF
            and (AS_OF - line.date_maturity).days < self.stage_first.offset_days
        ]
        for stage in self.policy.stage_ids:
            with self.subTest(stage=stage.name):
                lines = self.open_lines.filtered(
                    lambda line, stage=stage: line.collection_stage_id == stage
                )
                figures = expected[stage.offset_days]
                count, amount = figures.count, figures.amount
                if stage.offset_days == courtesy_offset:
                    count -= len(past_due_courtesy)
                    amount -= self._total(
                        self.env["account.move.line"].union(*past_due_courtesy)
                    )
                self.assertEqual(len(lines), count)
                self.assertEqual(self._total(lines), amount)

    def test_disputes_match_csv(self):
        """Each open invoice marked as disputed has one open dispute over its
        whole residual."""
        expected_numbers = {row.invoice_number for row in self._disputed_open_rows()}
        self.assertEqual(len(self.open_disputes), self.expected.disputed_invoices.count)
        self.assertEqual(
            self.summary.disputes_opened, self.expected.disputed_invoices.count
        )
        self.assertEqual(self.summary.disputes_skipped, 0)
        self.assertEqual(
            Decimal(str(round(sum(self.open_disputes.mapped("amount_disputed")), 2))),
            self.expected.disputed_invoices.amount,
        )
        self.assertEqual(
            set(self.disputed_lines.move_id.mapped("ref")), expected_numbers
        )
        self.assertEqual(len(self.disputed_lines), len(self.open_disputes))
        self.assertEqual(
            self._total(self.disputed_lines), self.expected.disputed_invoices.amount
        )
        for dispute in self.open_disputes:
            with self.subTest(dispute=dispute.name):
                self.assertEqual(dispute.reason_id.name, DISPUTE_REASON_NAME)
                self.assertEqual(
                    dispute.amount_disputed,
                    dispute.line_ids.move_line_id.amount_residual,
                )

    def test_run_skips_disputed_items(self):
        """The run skips the disputed items it evaluates and stages none of them.

        The run evaluates only the items due at most three days after the run
        date, because the courtesy reminder is sent three days before the due
        date.
        """
        horizon = AS_OF + timedelta(days=-self.stage_courtesy.offset_days)
        evaluated = self.disputed_lines.filtered(
            lambda line: line.date_maturity <= horizon
        )
        self.assertTrue(evaluated)
        self.assertEqual(
            self.collection_run.skip_counts.get("dispute", 0), len(evaluated)
        )
        self.assertFalse(self.disputed_lines.collection_stage_id)

    def test_load_twice_no_second_dispute(self):
        """Loading the disputed invoices again opens no second dispute."""
        disputed_rows = self._disputed_open_rows()

        summary = load_sample(self.env, disputed_rows, AS_OF, company=self.company)

        self.assertEqual(summary.invoices_posted, 0)
        self.assertEqual(summary.invoices_skipped, len(disputed_rows))
        self.assertEqual(summary.disputes_opened, 0)
        self.assertEqual(summary.disputes_skipped, len(disputed_rows))
        open_disputes = self.env["collection.dispute"].search(
            [("company_id", "=", self.company.id), ("state", "=", "open")]
        )
        self.assertEqual(open_disputes, self.open_disputes)
        reasons = (
            self.env["collection.dispute.reason"]
            .with_context(active_test=False)
            .search([("name", "=", DISPUTE_REASON_NAME)])
        )
        self.assertEqual(len(reasons), 1)

    def test_run_record_counts(self):
        """The run evaluated the open items and changed those it staged."""
        staged = self.open_lines.filtered("collection_stage_id")
        self.assertEqual(self.collection_run.changed_count, len(staged))
        self.assertEqual(
            self.collection_run.notice_count,
            len(staged.partner_id.commercial_partner_id),
        )
        self.assertEqual(self.collection_run.state, "done")
