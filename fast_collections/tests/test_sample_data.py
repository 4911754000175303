from datetime import date
from decimal import Decimal

from odoo.tests import tagged

from ..tools.sample_loader import (
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

    def _total(self, lines):
        return Decimal(str(round(sum(lines.mapped("amount_residual")), 2)))

    def test_loaded_invoices_and_payments(self):
        """Every invoice issued by the date is posted, every one settled by it
        is paid."""
        issued = (
            sum(total.count for total in self.expected.stages.values())
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
            for line in self.open_lines
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

    def test_run_record_counts(self):
        """The run evaluated the open items and changed those it staged."""
        staged = self.open_lines.filtered("collection_stage_id")
        self.assertEqual(self.collection_run.changed_count, len(staged))
        self.assertEqual(
            self.collection_run.notice_count,
            len(staged.partner_id.commercial_partner_id),
        )
        self.assertEqual(self.collection_run.state, "done")
