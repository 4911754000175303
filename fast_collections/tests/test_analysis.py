from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..report.collection_aging_report import AGING_DATE_KEY
from .common import CollectionCommon


class AnalysisCommon(CollectionCommon):
    """Helpers to read the analysis reports."""

    def aging(self, aging_date=None, domain=(), user=None):
        """Return the aging rows, at ``aging_date`` or today."""
        env = self.env(user=user) if user else self.env
        report = env["collection.aging.report"]
        if aging_date:
            report = report.with_context(**{AGING_DATE_KEY: aging_date})
        return report.search(list(domain))

    def aging_by_bucket(self, aging_date=None, domain=()):
        """Return {bucket index: amount due} of the aging at ``aging_date``."""
        report = self.env["collection.aging.report"].with_context(
            **{AGING_DATE_KEY: aging_date}
        )
        return {
            bucket: amount
            for bucket, amount in report._read_group(
                list(domain), ["aging_bucket"], ["amount_residual:sum"]
            )
        }

    @classmethod
    def compute_kpi(cls, date_to, period_months=3, trend_months=3):
        """Compute the DSO and CEI up to ``date_to`` and return the rows."""
        wizard = cls.env["collection.analysis.wizard"].create(
            {
                "company_id": cls.company.id,
                "date_to": date_to,
                "period_months": period_months,
                "trend_months": trend_months,
            }
        )
        action = wizard.action_compute_kpi()
        return cls.env["collection.kpi.report"].search(action["domain"])

    def run_on(self, run_date):
        """Run the collection on ``run_date`` as the scheduler would that day."""
        with freeze_time(run_date):
            return self.run_collection(run_date)


@tagged("post_install", "-at_install")
class TestAgingReport(AnalysisCommon):
    """The customer owes 1,000 on an invoice of 1 January 2024 due 31 January,
    pays 400 on 20 February, and has a credit note of 100 of 1 February."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="ana.aging",
            name="Ana Aging",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector
        cls.invoice = cls.create_invoice(1000, "2024-01-31", invoice_date="2024-01-01")
        cls.pay_invoice(cls.invoice, 400, "2024-02-20")
        cls.credit_note = cls.create_invoice(
            100, "2024-02-01", invoice_date="2024-02-01", move_type="out_refund"
        )

    def test_before_due_date_current(self):
        """On 15 January the invoice is not yet due: 1,000 current, and the
        credit note does not exist yet."""
        rows = self.aging("2024-01-15")
        self.assertEqual(rows.move_id, self.invoice)
        self.assertEqual(rows.days_overdue, -16)
        self.assertEqual(rows.aging_bucket, "0")
        self.assertAlmostEqual(rows.amount_residual, 1000.0)

    def test_payment_after_date_added_back(self):
        """On 15 February the 400 paid on 20 February is still owed: 1,000
        due 15 days ago, in the 1-30 bucket."""
        row = self.aging("2024-02-15", [("move_id", "=", self.invoice.id)])
        self.assertEqual(row.days_overdue, 15)
        self.assertEqual(row.aging_bucket, "1")
        self.assertAlmostEqual(row.amount_residual, 1000.0)
        self.assertAlmostEqual(row.amount_residual_currency, 1000.0)

    def test_payment_before_date_taken_off(self):
        """On 15 March, 600 is still owed, 44 days overdue: 31-60 bucket."""
        row = self.aging("2024-03-15", [("move_id", "=", self.invoice.id)])
        self.assertEqual(row.days_overdue, 44)
        self.assertEqual(row.aging_bucket, "2")
        self.assertAlmostEqual(row.amount_residual, 600.0)

    def test_credit_note_current_and_negative(self):
        """The open credit note lowers what is owed, in the current bucket."""
        row = self.aging("2024-03-15", [("move_id", "=", self.credit_note.id)])
        self.assertTrue(row.is_credit)
        self.assertEqual(row.days_overdue, 0)
        self.assertEqual(row.aging_bucket, "0")
        self.assertAlmostEqual(row.amount_residual, -100.0)
        self.assertEqual(self.aging_by_bucket("2024-03-15"), {"0": -100.0, "2": 600.0})

    def test_unapplied_payment_current_credit(self):
        """A payment of 250 of 10 March, not applied to any invoice, lowers
        what is owed like the credit note, in the current bucket: on 15 March
        the customer owes 600 in the second bucket, less 100 and 250."""
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": 250,
                "date": "2024-03-10",
                "journal_id": self.company_data["default_journal_bank"].id,
            }
        )
        payment.action_post()
        row = self.aging("2024-03-15", [("move_id", "=", payment.move_id.id)])
        self.assertTrue(row.is_credit)
        self.assertAlmostEqual(row.amount_residual, -250.0)
        self.assertEqual(self.aging_by_bucket("2024-03-15"), {"0": -350.0, "2": 600.0})

    def test_paid_in_full_leaves_aging(self):
        """Once the invoice is paid in full it leaves the aging from the day
        of the payment, but stays in the aging of earlier dates."""
        self.pay_invoice(self.invoice, 600, "2024-04-01")
        self.assertFalse(self.aging("2024-04-01", [("move_id", "=", self.invoice.id)]))
        row = self.aging("2024-03-31", [("move_id", "=", self.invoice.id)])
        self.assertAlmostEqual(row.amount_residual, 600.0)

    def test_company_buckets_used(self):
        """Buckets 15,45: 44 days overdue falls in 16-45, the second one."""
        self.company.collection_aging_limits = "15,45"
        row = self.aging("2024-03-15", [("move_id", "=", self.invoice.id)])
        self.assertEqual(row.aging_bucket, "2")
        labels = dict(
            self.env["collection.aging.report"]
            ._fields["aging_bucket"]
            ._description_selection(self.env)
        )
        self.assertEqual(labels["2"], "16-45")
        self.assertEqual(labels["3"], "Over 45")

    def test_customer_collector_and_stage(self):
        """Each row has the commercial partner, its collector and the item's
        stage."""
        self.run_on(date(2024, 2, 10))
        row = self.aging("2024-03-15", [("move_id", "=", self.invoice.id)])
        self.assertEqual(row.partner_id, self.customer)
        self.assertEqual(row.user_id, self.collector)
        self.assertEqual(row.stage_id, self.stage_first)
        self.assertEqual(row.company_id, self.company)
        self.assertEqual(row.currency_id, self.company.currency_id)

    def test_today_in_view(self):
        """Without a date, the report ages the open items to today."""
        today = self.env["collection.run"]._get_company_today(self.company)
        invoice = self.create_invoice(250, today - timedelta(days=40))
        row = self.aging(domain=[("move_id", "=", invoice.id)])
        self.assertEqual(row.aging_date, today)
        self.assertEqual(row.days_overdue, 40)
        self.assertEqual(row.aging_bucket, "2")
        self.assertAlmostEqual(row.amount_residual, 250.0)


@tagged("post_install", "-at_install")
class TestKpiReport(AnalysisCommon):
    """DSO and CEI by hand.

    Invoices: 200 on 1 March (due 31 March, paid 15 May), 500 on 10 April
    (due 10 May, 400 paid 5 June), 300 on 10 May (due 9 June) and 600 on
    10 June (due 10 July).

    On 30 June, 1,000 is owed: 100 + 300 + 600. The countback takes June's
    600 (30 days) and May's 300 (31 days), which leaves 100 of April's 500:
    30 x 100 / 500 = 6 days. DSO = 67 days.

    The CEI of April to June: 200 owed on 31 March, 1,400 sold, 1,000 owed
    on 30 June of which 600 not yet due: (200 + 1,400 - 1,000) / (200 +
    1,400 - 600) = 600 / 1,000 = 60%.

    On 31 May, 800 is owed (500 + 300): May's 300 (31 days) and all of
    April's 500 (30 days): DSO = 61 days.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        march = cls.create_invoice(200, "2024-03-31", invoice_date="2024-03-01")
        april = cls.create_invoice(500, "2024-05-10", invoice_date="2024-04-10")
        cls.create_invoice(300, "2024-06-09", invoice_date="2024-05-10")
        cls.create_invoice(600, "2024-07-10", invoice_date="2024-06-10")
        cls.pay_invoice(march, 200, "2024-05-15")
        cls.pay_invoice(april, 400, "2024-06-05")
        cls.rows = cls.compute_kpi(date(2024, 6, 30))

    def row_at(self, day, partner=None):
        row = self.rows.filtered(
            lambda row: (
                row.date == day
                and row.partner_id == (partner or self.env["res.partner"])
            )
        )
        self.assertEqual(len(row), 1)
        return row

    def test_company_dso_by_hand(self):
        """The company's DSO on 30 June is 67 days."""
        row = self.row_at(date(2024, 6, 30))
        self.assertEqual(row.scope, "company")
        self.assertAlmostEqual(row.receivable_balance, 1000.0)
        self.assertAlmostEqual(row.credit_sales, 1400.0)
        self.assertAlmostEqual(row.dso, 67.0)

    def test_company_cei_by_hand(self):
        """The company's CEI of April to June is 60%."""
        row = self.row_at(date(2024, 6, 30))
        self.assertEqual(row.period_start, date(2024, 4, 1))
        self.assertAlmostEqual(row.beginning_balance, 200.0)
        self.assertAlmostEqual(row.current_balance, 600.0)
        self.assertAlmostEqual(row.cei, 60.0)

    def test_trend_month_ends(self):
        """One figure per month end: on 31 May the DSO is 61 days."""
        company_rows = self.rows.filtered(lambda row: row.scope == "company")
        self.assertEqual(
            company_rows.mapped("date"),
            [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)],
        )
        row = self.row_at(date(2024, 5, 31))
        self.assertAlmostEqual(row.receivable_balance, 800.0)
        self.assertAlmostEqual(row.dso, 61.0)

    def test_customer_rows(self):
        """The only customer has the company's figures."""
        row = self.row_at(date(2024, 6, 30), self.customer)
        self.assertEqual(row.scope, "customer")
        self.assertAlmostEqual(row.dso, 67.0)
        self.assertAlmostEqual(row.cei, 60.0)

    def test_recompute_replaces_rows(self):
        """Computing again with the same options gives the same rows only."""
        wizard = self.rows.wizard_id
        wizard.action_compute_kpi()
        self.assertEqual(len(wizard.kpi_ids), len(self.rows))


@tagged("post_install", "-at_install")
class TestRecoveryReport(AnalysisCommon):
    """An invoice of 1,000 due 15 January 2024 reaches the first reminder on
    22 January and the second on 5 February. 400 is paid on 25 January and
    600 on 10 February. Another invoice of 300 is paid before its due date."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice = cls.create_invoice(1000, "2024-01-15", invoice_date="2024-01-01")
        cls.early_invoice = cls.create_invoice(
            300, "2024-01-15", invoice_date="2024-01-01"
        )
        cls.pay_invoice(cls.early_invoice, 300, "2024-01-10")

    def recovered_by_stage(self):
        return dict(
            self.env["collection.recovery.report"]._read_group(
                [("partner_id", "=", self.customer.id)], ["stage_id"], ["amount:sum"]
            )
        )

    def test_amounts_by_stage_when_paid(self):
        """400 is recovered at the first reminder and 600 at the second; the
        early payment at no stage."""
        self.run_on(date(2024, 1, 22))
        self.pay_invoice(self.invoice, 400, "2024-01-25")
        self.run_on(date(2024, 2, 5))
        self.pay_invoice(self.invoice, 600, "2024-02-10")

        recovered = self.recovered_by_stage()
        stage_none = self.env["collection.stage"]
        self.assertEqual(
            recovered,
            {stage_none: 300.0, self.stage_first: 400.0, self.stage_second: 600.0},
        )

    def test_payment_dated_before_stage(self):
        """A payment entered after the run but dated before the stage was
        reached counts at the stage the item was at on that date."""
        self.run_on(date(2024, 2, 5))
        self.pay_invoice(self.invoice, 1000, "2024-01-20")
        self.assertEqual(
            self.recovered_by_stage()[self.env["collection.stage"]], 1300.0
        )

    def test_credit_note_not_recovered(self):
        """A credit note reconciled with the invoice is not a recovery."""
        credit_note = self.create_invoice(
            1000, "2024-01-20", invoice_date="2024-01-20", move_type="out_refund"
        )
        (
            self.receivable_lines(self.invoice) + self.receivable_lines(credit_note)
        ).reconcile()
        self.assertEqual(sum(self.recovered_by_stage().values()), 300.0)


@tagged("post_install", "-at_install")
class TestDisputeReport(AnalysisCommon):
    """Two disputes for defective goods, one closed after 10 days and one
    open, and one cancelled dispute for another reason."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reason = cls.env.ref("fast_collections.dispute_reason_defective")
        invoices = [
            cls.create_invoice(amount, "2024-01-31", invoice_date="2024-01-01")
            for amount in (100, 200, 300)
        ]
        with freeze_time("2024-02-01"):
            cls.closed, cls.still_open, cls.cancelled = (
                cls.env["collection.dispute"].create(
                    {
                        "reason_id": reason.id,
                        "line_ids": [
                            Command.create(
                                {
                                    "move_line_id": invoice.line_ids.filtered(
                                        "date_maturity"
                                    ).id,
                                    "amount_disputed": invoice.amount_residual,
                                }
                            )
                        ],
                    }
                )
                for invoice, reason in zip(
                    invoices,
                    (
                        cls.reason,
                        cls.reason,
                        cls.env.ref("fast_collections.dispute_reason_price"),
                    ),
                    strict=True,
                )
            )
        with freeze_time("2024-02-11"):
            cls.closed.action_reject()
            cls.cancelled.action_cancel()

    def test_days_to_resolve_closed_only(self):
        """The average days to resolve count the closed dispute only."""
        [(count, days, amount)] = self.env["collection.dispute.report"]._read_group(
            [("reason_id", "=", self.reason.id)],
            [],
            ["dispute_count:sum", "days_to_resolve:avg", "amount_disputed:sum"],
        )
        self.assertEqual(count, 2)
        self.assertEqual(days, 10)
        self.assertAlmostEqual(amount, 300.0)

    def test_cancelled_has_no_days(self):
        """A cancelled dispute has no days to resolve."""
        row = self.env["collection.dispute.report"].search(
            [("dispute_id", "=", self.cancelled.id)]
        )
        self.assertEqual(row.state, "cancelled")
        self.assertFalse(row.days_to_resolve)


@tagged("post_install", "-at_install")
class TestAnalysisAccess(AnalysisCommon):
    """Company A and company B each have an overdue invoice, a payment and a
    dispute. A collector of company A only reads company A's figures."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company
        cls.company_b = cls.setup_other_company(name="Company B")["company"]
        cls.invoice_a = cls.create_invoice(300, "2024-03-01", invoice_date="2024-02-01")
        cls.invoice_b = cls.create_invoice(
            200, "2024-03-01", invoice_date="2024-02-01", company=cls.company_b
        )
        cls.pay_invoice(cls.invoice_a, 100, "2024-03-05")
        cls.env["account.payment.register"].with_company(cls.company_b).with_context(
            active_model="account.move", active_ids=cls.invoice_b.ids
        ).create({"amount": 50, "payment_date": date(2024, 3, 5)})._create_payments()
        for invoice in (cls.invoice_a, cls.invoice_b):
            cls.env["collection.dispute"].with_company(invoice.company_id).create(
                {
                    "company_id": invoice.company_id.id,
                    "reason_id": cls.env.ref(
                        "fast_collections.dispute_reason_defective"
                    ).id,
                    "line_ids": [
                        Command.create(
                            {
                                "move_line_id": invoice.line_ids.filtered(
                                    "date_maturity"
                                ).id,
                                "amount_disputed": 10.0,
                            }
                        )
                    ],
                }
            )
        cls.collector_a = new_test_user(
            cls.env,
            login="collector.a.analysis",
            name="Collector of A",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )

    def test_both_companies_in_report(self):
        """The aging of a user of both companies shows both."""
        env = self.env(
            context=dict(
                self.env.context,
                allowed_company_ids=(self.company_a | self.company_b).ids,
            )
        )
        rows = (
            env["collection.aging.report"]
            .with_context(**{AGING_DATE_KEY: "2024-03-31"})
            .search([])
        )
        self.assertEqual(rows.company_id, self.company_a | self.company_b)

    def test_aging_of_company_a_only(self):
        """The collector of A reads the aging of A, today and at a date."""
        today_rows = self.aging(user=self.collector_a)
        self.assertEqual(today_rows.company_id, self.company_a)
        dated_rows = self.aging("2024-03-31", user=self.collector_a)
        self.assertEqual(dated_rows.move_id, self.invoice_a)

    def test_recovered_of_company_a_only(self):
        """The collector of A reads the payments of A only."""
        report = self.env(user=self.collector_a)["collection.recovery.report"]
        self.assertEqual(report.search([]).move_id, self.invoice_a)

    def test_disputes_of_company_a_only(self):
        """The collector of A reads the disputes of A only."""
        report = self.env(user=self.collector_a)["collection.dispute.report"]
        rows = report.search([])
        self.assertEqual(rows.company_id, self.company_a)
        self.assertEqual(len(rows), 1)

    def test_kpi_of_company_b_refused(self):
        """The collector of A cannot compute the figures of B."""
        env = self.env(user=self.collector_a)
        wizard = env["collection.analysis.wizard"].create(
            {"company_id": self.company_b.id, "date_to": "2024-03-31"}
        )
        with self.assertRaises(AccessError):
            wizard.action_compute_kpi()

    def test_kpi_of_company_a_readable(self):
        """The collector of A computes and reads the figures of A."""
        env = self.env(user=self.collector_a)
        wizard = env["collection.analysis.wizard"].create(
            {"date_to": "2024-03-31", "trend_months": 1}
        )
        action = wizard.action_compute_kpi()
        rows = env["collection.kpi.report"].search(action["domain"])
        self.assertEqual(rows.company_id, self.company_a)
        company_row = rows.filtered(lambda row: row.scope == "company")
        self.assertAlmostEqual(company_row.receivable_balance, 200.0)
