from collections import defaultdict
from datetime import date
from decimal import Decimal

from odoo.tests import tagged

from ..report.collection_aging_report import AGING_DATE_KEY
from ..rules.aging import bucket_index
from ..rules.dso import collection_effectiveness_index, countback_dso
from ..tools.sample_loader import SAMPLE_PATH, load_sample, read_sample
from .common import CollectionCommon

AS_OF = date(2013, 6, 30)
# The three months before AS_OF, most recent first: (day before, last day).
MONTHS = [
    (date(2013, 5, 31), date(2013, 6, 30)),
    (date(2013, 4, 30), date(2013, 5, 31)),
    (date(2013, 3, 31), date(2013, 4, 30)),
]


@tagged("post_install", "-at_install")
class TestAnalysisSample(CollectionCommon):
    """The public receivables sample, loaded as of 30 June 2013 as in
    TestSampleData, analysed on that date and compared with the figures
    computed from the CSV rows themselves.

    In the CSV, an invoice is owed on a date when it was issued on or before
    it and settled after it. The loader pays each invoice settled by 30 June
    on its settled date.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = read_sample(SAMPLE_PATH)
        load_sample(cls.env, cls.rows, AS_OF, company=cls.company)
        wizard = cls.env["collection.analysis.wizard"].create(
            {
                "company_id": cls.company.id,
                "date_to": AS_OF,
                "period_months": 3,
                "trend_months": 3,
            }
        )
        action = wizard.action_compute_kpi()
        cls.kpi_rows = cls.env["collection.kpi.report"].search(action["domain"])

    # Figures from the CSV rows.

    def csv_owed(self, on_date, rows=None):
        """Return the CSV rows owed on ``on_date``."""
        return [
            row
            for row in (self.rows if rows is None else rows)
            if row.invoice_date <= on_date < row.settled_date
        ]

    def csv_sales(self, after, until, rows=None):
        """Return the amount invoiced from the day after ``after`` to ``until``."""
        return sum(
            (
                row.amount
                for row in (self.rows if rows is None else rows)
                if after < row.invoice_date <= until
            ),
            Decimal(0),
        )

    def csv_dso(self, rows=None):
        balance = sum((row.amount for row in self.csv_owed(AS_OF, rows)), Decimal(0))
        months = [
            ((until - after).days, float(self.csv_sales(after, until, rows)))
            for after, until in MONTHS
        ]
        return countback_dso(float(balance), months)

    def kpi_row(self, day=AS_OF, partner=None):
        row = self.kpi_rows.filtered(
            lambda row: (
                row.date == day
                and row.partner_id == (partner or self.env["res.partner"])
            )
        )
        self.assertEqual(len(row), 1)
        return row

    # Tests.

    def test_aging_buckets_match_csv(self):
        """The amount owed in each aging bucket on 30 June is the CSV's, with
        the default buckets (two of them used) and with buckets of 3, 7 and
        10 days (all five used)."""
        for limits_text, bucket_count in (("30,60,90", 2), ("3,7,10", 5)):
            with self.subTest(limits=limits_text):
                self.company.collection_aging_limits = limits_text
                buckets = self.assert_aging_buckets_match_csv()
                self.assertEqual(len(buckets), bucket_count)

    def assert_aging_buckets_match_csv(self):
        """Compare the aging's buckets with the CSV's and return them."""
        limits = self.company._get_collection_aging_limits()
        expected = defaultdict(Decimal)
        for row in self.csv_owed(AS_OF):
            days_overdue = (AS_OF - row.due_date).days
            expected[str(bucket_index(days_overdue, limits))] += row.amount

        report = self.env["collection.aging.report"].with_context(
            **{AGING_DATE_KEY: AS_OF}
        )
        buckets = dict(
            report._read_group(
                [("company_id", "=", self.company.id)],
                ["aging_bucket"],
                ["amount_residual:sum"],
            )
        )
        self.assertEqual(set(buckets), set(expected))
        for bucket, amount in expected.items():
            with self.subTest(bucket=bucket):
                self.assertAlmostEqual(buckets[bucket], float(amount), places=2)
        return buckets

    def test_aging_count_matches_csv(self):
        """The aging lists one item per invoice owed on 30 June."""
        report = self.env["collection.aging.report"].with_context(
            **{AGING_DATE_KEY: AS_OF}
        )
        count = report.search_count([("company_id", "=", self.company.id)])
        self.assertEqual(count, len(self.csv_owed(AS_OF)))

    def test_company_dso_matches_csv(self):
        """The company's DSO on 30 June is the CSV's, over April to June."""
        row = self.kpi_row()
        balance = sum(row.amount for row in self.csv_owed(AS_OF))
        self.assertAlmostEqual(row.receivable_balance, float(balance), places=2)
        self.assertAlmostEqual(
            row.credit_sales,
            float(self.csv_sales(date(2013, 3, 31), AS_OF)),
            places=2,
        )
        self.assertAlmostEqual(row.dso, self.csv_dso(), places=1)

    def test_company_cei_matches_csv(self):
        """The company's CEI of April to June is the CSV's."""
        beginning = sum(row.amount for row in self.csv_owed(date(2013, 3, 31)))
        sales = self.csv_sales(date(2013, 3, 31), AS_OF)
        owed = self.csv_owed(AS_OF)
        ending_total = sum(row.amount for row in owed)
        ending_current = sum(row.amount for row in owed if row.due_date >= AS_OF)
        expected = collection_effectiveness_index(
            float(beginning), float(sales), float(ending_total), float(ending_current)
        )

        row = self.kpi_row()
        self.assertAlmostEqual(row.beginning_balance, float(beginning), places=2)
        self.assertAlmostEqual(row.current_balance, float(ending_current), places=2)
        self.assertAlmostEqual(row.cei, expected, places=1)

    def test_customer_dso_matches_csv(self):
        """The DSO of the customer who owes most on 30 June is the CSV's."""
        owed_by_customer = defaultdict(Decimal)
        for row in self.csv_owed(AS_OF):
            owed_by_customer[row.customer_key] += row.amount
        customer_key = max(owed_by_customer, key=owed_by_customer.get)
        customer_rows = [row for row in self.rows if row.customer_key == customer_key]
        partner = self.env["res.partner"].search([("ref", "=", customer_key)])

        row = self.kpi_row(partner=partner)
        self.assertAlmostEqual(
            row.receivable_balance, float(owed_by_customer[customer_key]), places=2
        )
        self.assertAlmostEqual(row.dso, self.csv_dso(customer_rows), places=1)

    def test_trend_balances_match_csv(self):
        """At each month end of the trend, the company owes what the CSV gives."""
        for day in (date(2013, 4, 30), date(2013, 5, 31), AS_OF):
            with self.subTest(day=day):
                expected = sum(row.amount for row in self.csv_owed(day))
                self.assertAlmostEqual(
                    self.kpi_row(day).receivable_balance, float(expected), places=2
                )
