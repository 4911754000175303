from datetime import date

from odoo.tests import BaseCase, tagged

from ..rules.dso import (
    collection_effectiveness_index,
    countback_dso,
    months_before,
    period_boundaries,
    trend_dates,
)


@tagged("post_install", "-at_install")
class TestDsoRules(BaseCase):
    def test_countback_by_hand(self):
        """1,000 owed on 30 June; sales of 600 in June (30 days), 300 in May
        (31 days) and 500 in April (30 days).

        June and May are used up in full: 1,000 - 600 - 300 = 100 left, 61
        days. April covers the rest: 30 x 100 / 500 = 6 days. DSO = 67 days.
        """
        months = [(30, 600.0), (31, 300.0), (30, 500.0)]
        self.assertAlmostEqual(countback_dso(1000.0, months), 67.0)

    def test_countback_within_last_month(self):
        """300 owed against June's 600 of sales: half of June, 15 days."""
        self.assertAlmostEqual(countback_dso(300.0, [(30, 600.0), (31, 300.0)]), 15.0)

    def test_countback_balance_equals_month(self):
        """A balance equal to June's sales is June's 30 days exactly."""
        self.assertAlmostEqual(countback_dso(600.0, [(30, 600.0), (31, 300.0)]), 30.0)

    def test_countback_month_without_sales(self):
        """A month with no sales, or more credit notes than invoices, counts
        in full: 100 owed, nothing sold in June, 200 sold in May (31 days)
        gives 30 + 31 x 100 / 200 = 45.5 days."""
        self.assertAlmostEqual(countback_dso(100.0, [(30, 0.0), (31, 200.0)]), 45.5)
        self.assertAlmostEqual(countback_dso(100.0, [(30, -50.0), (31, 200.0)]), 45.5)

    def test_countback_beyond_period(self):
        """A balance larger than the period's sales gives the period's days."""
        self.assertAlmostEqual(countback_dso(5000.0, [(30, 600.0), (31, 300.0)]), 61.0)

    def test_countback_nothing_owed(self):
        """Nothing owed, or more credits than debts, gives 0 days."""
        self.assertEqual(countback_dso(0.0, [(30, 600.0)]), 0.0)
        self.assertEqual(countback_dso(-20.0, [(30, 600.0)]), 0.0)

    def test_cei_by_hand(self):
        """1,000 owed at the start, 1,400 sold, 900 owed at the end of which
        500 not yet due: (1,000 + 1,400 - 900) / (1,000 + 1,400 - 500) =
        1,500 / 1,900 = 78.95%."""
        self.assertAlmostEqual(
            collection_effectiveness_index(1000.0, 1400.0, 900.0, 500.0),
            100.0 * 1500 / 1900,
        )

    def test_cei_everything_collected(self):
        """Everything owed collected and nothing left: 100%."""
        self.assertAlmostEqual(
            collection_effectiveness_index(1000.0, 0.0, 0.0, 0.0), 100.0
        )

    def test_cei_nothing_to_collect(self):
        """Nothing to collect has no index."""
        self.assertIsNone(collection_effectiveness_index(0.0, 0.0, 0.0, 0.0))
        self.assertIsNone(collection_effectiveness_index(0.0, 500.0, 500.0, 500.0))

    def test_months_before_month_end(self):
        """From a month end, months back are month ends too."""
        self.assertEqual(months_before(date(2013, 6, 30), 1), date(2013, 5, 31))
        self.assertEqual(months_before(date(2013, 3, 31), 1), date(2013, 2, 28))
        self.assertEqual(months_before(date(2013, 2, 28), 1), date(2013, 1, 31))

    def test_months_before_mid_month(self):
        """From the middle of a month, the day is kept or clamped."""
        self.assertEqual(months_before(date(2013, 6, 15), 1), date(2013, 5, 15))
        self.assertEqual(months_before(date(2013, 3, 30), 1), date(2013, 2, 28))

    def test_period_boundaries(self):
        """A 3-month period ending 30 June is April, May and June."""
        self.assertEqual(
            period_boundaries(date(2013, 6, 30), 3),
            [
                date(2013, 3, 31),
                date(2013, 4, 30),
                date(2013, 5, 31),
                date(2013, 6, 30),
            ],
        )

    def test_trend_dates(self):
        """The month ends up to the date, the date itself last."""
        self.assertEqual(
            trend_dates(date(2013, 6, 30), 3),
            [date(2013, 4, 30), date(2013, 5, 31), date(2013, 6, 30)],
        )
        self.assertEqual(
            trend_dates(date(2013, 6, 15), 3),
            [date(2013, 4, 30), date(2013, 5, 31), date(2013, 6, 15)],
        )

    def test_bad_months_rejected(self):
        """A period or a trend needs at least one month."""
        with self.assertRaises(ValueError):
            period_boundaries(date(2013, 6, 30), 0)
        with self.assertRaises(ValueError):
            trend_dates(date(2013, 6, 30), 0)
