from datetime import date
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from ..rules.interest import (
    DAY_COUNT_ACTUAL_360,
    DAY_COUNT_ACTUAL_365,
    DAY_COUNT_ACTUAL_ACTUAL,
    FEE_FIXED,
    FEE_PERCENT,
    BaseChange,
    RatePeriod,
    clip_rate_periods,
    compute_fee,
    compute_interest,
    find_table_problems,
    payment_change,
    year_fraction,
)

CENT = Decimal("0.01")

# Spanish statutory rates for commercial transactions: ECB rate plus 8 points.
SPANISH_RATES = [
    RatePeriod(date(2024, 1, 1), date(2024, 6, 30), Decimal("12.50")),
    RatePeriod(date(2024, 7, 1), date(2024, 12, 31), Decimal("12.25")),
    RatePeriod(date(2025, 1, 1), date(2025, 6, 30), Decimal("11.15")),
    RatePeriod(date(2025, 7, 1), date(2025, 12, 31), Decimal("10.15")),
    RatePeriod(date(2026, 1, 1), date(2026, 6, 30), Decimal("10.15")),
]
TEN_PERCENT = (RatePeriod(date.min, date.max, Decimal(10)),)


def interest(start, last_day, base, changes=(), rates=TEN_PERCENT, **options):
    options.setdefault("day_count", DAY_COUNT_ACTUAL_365)
    return compute_interest(
        start=start,
        last_day=last_day,
        initial_base=Decimal(base),
        base_changes=list(changes),
        rates=rates,
        rounding=CENT,
        **options,
    )


@tagged("post_install", "-at_install")
class TestInterestRules(BaseCase):
    def test_full_half_year_one_rate(self):
        """10,000 from 1 January to 30 June 2024 at 12.50%: 182 days,
        10,000 x 12.50% x 182 / 365 = 623.2876, so 623.29."""
        result = interest(
            date(2024, 1, 1), date(2024, 6, 30), 10000, rates=SPANISH_RATES
        )
        self.assertEqual(result.amount, Decimal("623.29"))
        self.assertEqual(len(result.segments), 1)
        self.assertEqual(result.segments[0].days, 182)
        self.assertEqual(result.charged_to, date(2024, 6, 30))
        self.assertIsNone(result.missing_from)

    def test_period_across_two_half_years(self):
        """1,000 from 1 June to 31 July 2025: 30 days at 11.15% (9.1644) and
        31 days at 10.15% (8.6205), 17.7849 in all, so 17.78."""
        result = interest(
            date(2025, 6, 1), date(2025, 7, 31), 1000, rates=SPANISH_RATES
        )
        self.assertEqual(
            [(segment.days, segment.rate) for segment in result.segments],
            [(30, Decimal("11.15")), (31, Decimal("10.15"))],
        )
        self.assertEqual(result.amount, Decimal("17.78"))

    def test_partial_payment_lowers_base(self):
        """1,000 due 1 January 2026, 400 paid 31 January, claimed on 28
        February at 10.15%.

        The day of payment bears interest on the amount paid. So 30 days on
        1,000 (2 to 31 January, 8.3425) and 28 days on 600 (1 to 28 February,
        4.6718) give 13.0143, rounded to 13.01.
        """
        result = interest(
            date(2026, 1, 2),
            date(2026, 2, 28),
            1000,
            changes=[payment_change(date(2026, 1, 31), Decimal(400))],
            rates=SPANISH_RATES,
        )
        self.assertEqual(
            [(segment.base, segment.days) for segment in result.segments],
            [(Decimal(1000), 30), (Decimal(600), 28)],
        )
        self.assertEqual(result.amount, Decimal("13.01"))

    def test_payment_day_bears_interest(self):
        """1,000 due 1 January at 10%, paid in full on 31 January: 30 days
        on 1,000 (2 to 31 January), 1,000 x 10% x 30 / 365 = 8.2192, so 8.22,
        and nothing from 1 February on."""
        result = interest(
            date(2026, 1, 2),
            date(2026, 2, 5),
            1000,
            changes=[payment_change(date(2026, 1, 31), Decimal(1000))],
        )
        self.assertEqual(
            [(segment.base, segment.days) for segment in result.segments],
            [(Decimal(1000), 30)],
        )
        self.assertEqual(result.amount, Decimal("8.22"))

    def test_second_claim_from_day_after_first(self):
        """The claim of 20 June after one up to 28 February covers 1 March to
        20 June, 112 days on 600 at 10.15%: 18.6871, so 18.69. The payment
        dated before the period still lowers the base."""
        result = interest(
            date(2026, 3, 1),
            date(2026, 6, 20),
            1000,
            changes=[payment_change(date(2026, 1, 31), Decimal(400))],
            rates=SPANISH_RATES,
        )
        self.assertEqual(len(result.segments), 1)
        self.assertEqual(result.segments[0].base, Decimal(600))
        self.assertEqual(result.segments[0].days, 112)
        self.assertEqual(result.amount, Decimal("18.69"))

    def test_missing_rate_stops_charge(self):
        """With no rate for the second half of 2026, a claim up to 20 July
        charges 21 to 30 June only: 10 days on 600 at 10.15%, 1.6685, so
        1.67."""
        result = interest(
            date(2026, 6, 21), date(2026, 7, 20), 600, rates=SPANISH_RATES
        )
        self.assertEqual(result.amount, Decimal("1.67"))
        self.assertEqual(result.charged_to, date(2026, 6, 30))
        self.assertEqual(result.missing_from, date(2026, 7, 1))

    def test_no_rate_at_all_charges_nothing(self):
        """Days before the first rate of the table are not charged."""
        result = interest(
            date(2023, 12, 1), date(2024, 1, 31), 1000, rates=SPANISH_RATES
        )
        self.assertEqual(result.amount, Decimal(0))
        self.assertIsNone(result.charged_to)
        self.assertEqual(result.missing_from, date(2023, 12, 1))

    def test_day_counts_over_leap_year(self):
        """1,000 at 10% over 2024 (366 days): 100.27 in actual/365, 101.67 in
        actual/360 and 100.00 in actual/actual."""
        expected = {
            DAY_COUNT_ACTUAL_365: Decimal("100.27"),
            DAY_COUNT_ACTUAL_360: Decimal("101.67"),
            DAY_COUNT_ACTUAL_ACTUAL: Decimal("100.00"),
        }
        for day_count, amount in expected.items():
            with self.subTest(day_count=day_count):
                result = interest(
                    date(2024, 1, 1), date(2024, 12, 31), 1000, day_count=day_count
                )
                self.assertEqual(result.amount, amount)

    def test_actual_actual_across_new_year(self):
        """1 December 2023 to 31 January 2024 in actual/actual: 31/365 +
        31/366 of a year, so 1,000 at 10% gives 16.96 (16.99 in actual/365)."""
        fraction = year_fraction(
            date(2023, 12, 1), date(2024, 2, 1), DAY_COUNT_ACTUAL_ACTUAL
        )
        self.assertEqual(fraction, Decimal(31) / 365 + Decimal(31) / 366)
        result = interest(
            date(2023, 12, 1),
            date(2024, 1, 31),
            1000,
            day_count=DAY_COUNT_ACTUAL_ACTUAL,
        )
        self.assertEqual(result.amount, Decimal("16.96"))
        self.assertEqual(len(result.segments), 2)
        result = interest(date(2023, 12, 1), date(2024, 1, 31), 1000)
        self.assertEqual(result.amount, Decimal("16.99"))

    def test_excluded_days_bear_no_interest(self):
        """1,000 at 10% from 2 to 31 January with a plan from 11 to 20
        January: 20 days charged, 5.4795, so 5.48, and the period is charged
        up to 31 January."""
        result = interest(
            date(2026, 1, 2),
            date(2026, 1, 31),
            1000,
            excluded=[(date(2026, 1, 11), date(2026, 1, 21))],
        )
        self.assertEqual(sum(segment.days for segment in result.segments), 20)
        self.assertEqual(result.amount, Decimal("5.48"))
        self.assertEqual(result.charged_to, date(2026, 1, 31))

    def test_rounded_once_per_item(self):
        """Three segments of 0.004 each give 0.01 rounded once, where rounding
        each segment would give 0.00."""
        changes = [
            BaseChange(date(2026, 1, 2), Decimal(0)),
            BaseChange(date(2026, 1, 3), Decimal(0)),
        ]
        rates = [RatePeriod(date.min, date.max, Decimal("1.46"))]
        result = interest(date(2026, 1, 1), date(2026, 1, 3), 100, changes, rates)
        self.assertEqual(len(result.segments), 3)
        self.assertEqual(result.segments[0].interest, Decimal("0.004"))
        self.assertEqual(result.amount, Decimal("0.01"))

    def test_days_charged_keep_their_pricing(self):
        """January charged at 12% actual/360 keeps that pricing in front of a
        10% actual/365 table: 31 days on 1,000 at 12% / 360 = 10.3333 and 28
        days at 10% / 365 = 7.6712, 18.0045, so 18.00."""
        charged = clip_rate_periods(
            [RatePeriod(date.min, date.max, Decimal(12))],
            date(2026, 1, 1),
            date(2026, 1, 31),
            DAY_COUNT_ACTUAL_360,
        )
        self.assertEqual(
            charged,
            [
                RatePeriod(
                    date(2026, 1, 1),
                    date(2026, 1, 31),
                    Decimal(12),
                    DAY_COUNT_ACTUAL_360,
                )
            ],
        )
        result = interest(
            date(2026, 1, 1),
            date(2026, 2, 28),
            1000,
            rates=[*charged, *TEN_PERCENT],
        )
        self.assertEqual(result.amount, Decimal("18.00"))
        self.assertEqual([segment.days for segment in result.segments], [31, 28])

    def test_clip_leaves_out_periods_outside(self):
        """Clipping the Spanish table to March 2025 keeps one period of 31
        days at 11.15%."""
        self.assertEqual(
            clip_rate_periods(
                SPANISH_RATES,
                date(2025, 3, 1),
                date(2025, 3, 31),
                DAY_COUNT_ACTUAL_365,
            ),
            [
                RatePeriod(
                    date(2025, 3, 1),
                    date(2025, 3, 31),
                    Decimal("11.15"),
                    DAY_COUNT_ACTUAL_365,
                )
            ],
        )

    def test_identical_rows_overlap(self):
        """Two identical rows of a table are an overlap, not one row."""
        first = RatePeriod(date(2026, 1, 1), date(2026, 6, 30), Decimal(2))
        self.assertEqual(
            find_table_problems([first, first]), [("overlap", first, first)]
        )

    def test_period_before_start_is_empty(self):
        """A period that ends before it starts charges nothing."""
        result = interest(date(2026, 3, 1), date(2026, 2, 28), 1000)
        self.assertEqual(result.amount, Decimal(0))
        self.assertIsNone(result.charged_to)

    def test_table_problems(self):
        """A negative rate, an overlap and a gap are each reported."""
        first = RatePeriod(date(2026, 1, 1), date(2026, 6, 30), Decimal(2))
        self.assertEqual(find_table_problems(SPANISH_RATES), [])
        negative = RatePeriod(date(2026, 7, 1), date(2026, 12, 31), Decimal(-1))
        self.assertEqual(
            find_table_problems([first, negative]), [("negative", negative, None)]
        )
        overlap = RatePeriod(date(2026, 6, 1), date(2026, 12, 31), Decimal(2))
        self.assertEqual(
            find_table_problems([overlap, first]), [("overlap", first, overlap)]
        )
        late = RatePeriod(date(2026, 8, 1), date(2026, 12, 31), Decimal(2))
        self.assertEqual(find_table_problems([first, late]), [("gap", first, late)])

    def test_fee_fixed(self):
        """A fixed fee ignores the amount overdue."""
        fee = compute_fee(Decimal(5000), FEE_FIXED, Decimal(10), Decimal(0), 0, 0, CENT)
        self.assertEqual(fee, Decimal("10.00"))

    def test_fee_percent_minimum_maximum(self):
        """5% with a minimum of 10 and a maximum of 30: 100 gives 10, 400
        gives 20 and 1,000 gives 30."""
        for overdue, expected in ((100, 10), (400, 20), (1000, 30)):
            with self.subTest(overdue=overdue):
                fee = compute_fee(
                    Decimal(overdue),
                    FEE_PERCENT,
                    Decimal(0),
                    Decimal(5),
                    Decimal(10),
                    Decimal(30),
                    CENT,
                )
                self.assertEqual(fee, Decimal(expected))

    def test_fee_minimum_above_maximum_rejected(self):
        """A minimum above the maximum is an error."""
        with self.assertRaises(ValueError):
            compute_fee(
                Decimal(100),
                FEE_PERCENT,
                Decimal(0),
                Decimal(5),
                Decimal(40),
                Decimal(30),
                CENT,
            )
