import datetime
import tempfile
from decimal import Decimal
from pathlib import Path

from odoo.tests import BaseCase, tagged

from ..tools.sample_loader import (
    InvoiceTotal,
    SampleInvoice,
    expected_figures,
    reached_stage_offset,
    read_sample,
)

HEADER = (
    "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,"
    "InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate"
)
PAID_LATE_ROW = (
    "391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,Yes,2/8/2013,"
    "Electronic,37,7"
)
PAID_EARLY_ROW = (
    "406,8976-AMJEO,3/3/2012,0000611366,1/26/2013,2/25/2013,94,No,2/20/2013,Paper,25,0"
)
STAGE_OFFSETS = (-3, 7, 21, 45, 75)


def make_invoice(number, invoice_date, settled_date, amount, disputed=False):
    """Return a sample invoice on 30-day terms for customer 0001-TEST."""
    return SampleInvoice(
        customer_key="0001-TEST",
        country_code="391",
        invoice_number=number,
        invoice_date=invoice_date,
        due_date=invoice_date + datetime.timedelta(days=30),
        settled_date=settled_date,
        amount=Decimal(amount),
        disputed=disputed,
        paperless=False,
    )


@tagged("post_install", "-at_install")
class TestReadSample(BaseCase):
    def setUp(self):
        super().setUp()
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.directory = Path(directory.name)

    def write_csv(self, *lines):
        path = self.directory / "sample.csv"
        path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
        return path

    def test_read_sample_parses_rows(self):
        """Dates are month/day/year, amounts get two decimals, flags become bools."""
        path = self.write_csv(HEADER, PAID_LATE_ROW, PAID_EARLY_ROW)

        paid_late, paid_early = read_sample(path)

        self.assertEqual(paid_late.customer_key, "0379-NEVHP")
        self.assertEqual(paid_late.country_code, "391")
        self.assertEqual(paid_late.invoice_number, "0000611365")
        self.assertEqual(paid_late.invoice_date, datetime.date(2013, 1, 2))
        self.assertEqual(paid_late.due_date, datetime.date(2013, 2, 1))
        self.assertEqual(paid_late.settled_date, datetime.date(2013, 2, 8))
        self.assertEqual(paid_late.amount, Decimal("55.94"))
        self.assertTrue(paid_late.disputed)
        self.assertTrue(paid_late.paperless)
        self.assertEqual(paid_early.amount, Decimal("94.00"))
        self.assertEqual(str(paid_early.amount), "94.00")
        self.assertFalse(paid_early.disputed)
        self.assertFalse(paid_early.paperless)

    def test_read_sample_malformed_date(self):
        """A date in another format is rejected with its line and column."""
        bad_row = PAID_EARLY_ROW.replace("1/26/2013", "2013-01-26")
        path = self.write_csv(HEADER, PAID_LATE_ROW, bad_row)

        with self.assertRaisesRegex(ValueError, r"line 3: InvoiceDate '2013-01-26'"):
            read_sample(path)

    def test_read_sample_malformed_amount(self):
        """An amount that is not a number is rejected with its line."""
        bad_row = PAID_EARLY_ROW.replace(",94,", ",9a4,")
        path = self.write_csv(HEADER, bad_row)

        with self.assertRaisesRegex(ValueError, r"line 2: InvoiceAmount '9a4'"):
            read_sample(path)

    def test_read_sample_unknown_flag(self):
        """Disputed must be Yes or No."""
        bad_row = PAID_EARLY_ROW.replace(",No,", ",Maybe,")
        path = self.write_csv(HEADER, bad_row)

        with self.assertRaisesRegex(ValueError, r"line 2: Disputed 'Maybe'"):
            read_sample(path)

    def test_read_sample_missing_field(self):
        """A row shorter than the header is rejected with its line."""
        short_row = PAID_EARLY_ROW.rsplit(",", 3)[0]
        path = self.write_csv(HEADER, PAID_LATE_ROW, short_row)

        with self.assertRaisesRegex(
            ValueError, r"line 3: found 9 fields, the header has 12"
        ):
            read_sample(path)

    def test_read_sample_settled_before_invoice(self):
        """A settlement before the invoice date is rejected."""
        bad_row = PAID_EARLY_ROW.replace("2/20/2013", "1/20/2013")
        path = self.write_csv(HEADER, bad_row)

        with self.assertRaisesRegex(ValueError, r"line 2: SettledDate 2013-01-20"):
            read_sample(path)

    def test_read_sample_duplicate_invoice_number(self):
        """An invoice number may appear only once."""
        path = self.write_csv(HEADER, PAID_LATE_ROW, PAID_LATE_ROW)

        with self.assertRaisesRegex(
            ValueError, r"line 3: invoice number 0000611365 already appears on line 2"
        ):
            read_sample(path)

    def test_read_sample_missing_column(self):
        """A header without SettledDate is rejected before any row is read."""
        path = self.write_csv(HEADER.replace("SettledDate", "Settled"), PAID_LATE_ROW)

        with self.assertRaisesRegex(ValueError, r"missing columns SettledDate"):
            read_sample(path)

    def test_read_sample_missing_file(self):
        """A path that does not exist raises FileNotFoundError naming it."""
        path = self.directory / "absent.csv"

        with self.assertRaisesRegex(FileNotFoundError, r"absent\.csv"):
            read_sample(path)


@tagged("post_install", "-at_install")
class TestExpectedFigures(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        date = datetime.date
        # Figures on 2013-03-31, in days from the due date:
        #   paid before: settled 2013-02-10, not open
        #   28 days late, 200: overdue, stage 21 (stage 7 with 10 grace days)
        #   due today, 300: open, not overdue, courtesy stage -3
        #   due in 14 days, 400: open, no stage yet
        #   issued after: invoice date 2013-04-02, not counted
        #   settled today: settled 2013-03-31, not open
        #   120 days late, 700: overdue, stage 75
        #   5 days late, 800: overdue, still at the courtesy stage -3
        cls.invoices = [
            make_invoice("paid before", date(2013, 1, 1), date(2013, 2, 10), "100"),
            make_invoice("28 days late", date(2013, 2, 1), date(2013, 4, 15), "200"),
            make_invoice("due today", date(2013, 3, 1), date(2013, 4, 5), "300"),
            make_invoice("due in 14 days", date(2013, 3, 15), date(2013, 5, 1), "400"),
            make_invoice("issued after", date(2013, 4, 2), date(2013, 5, 10), "500"),
            make_invoice("settled today", date(2013, 1, 10), date(2013, 3, 31), "600"),
            make_invoice("120 days late", date(2012, 11, 1), date(2013, 6, 1), "700"),
            make_invoice("5 days late", date(2013, 2, 24), date(2013, 4, 20), "800"),
        ]
        cls.as_of = date(2013, 3, 31)

    def test_open_invoices(self):
        """Issued on or before the date and settled after it: 5 invoices of 2,400."""
        figures = expected_figures(self.invoices, self.as_of, STAGE_OFFSETS)

        self.assertEqual(figures.as_of, self.as_of)
        self.assertEqual(figures.open_invoices, InvoiceTotal(5, Decimal("2400")))
        self.assertEqual(figures.disputed_invoices, InvoiceTotal())

    def test_overdue_invoices(self):
        """Open with a due date before the date: 3 invoices of 1,700."""
        figures = expected_figures(self.invoices, self.as_of, STAGE_OFFSETS)

        self.assertEqual(figures.overdue_invoices, InvoiceTotal(3, Decimal("1700")))

    def test_stages_without_grace(self):
        """Each open invoice counts once, at the highest offset it reached."""
        figures = expected_figures(self.invoices, self.as_of, STAGE_OFFSETS)

        self.assertEqual(
            figures.stages,
            {
                -3: InvoiceTotal(2, Decimal("1100")),
                7: InvoiceTotal(0, Decimal("0")),
                21: InvoiceTotal(1, Decimal("200")),
                45: InvoiceTotal(0, Decimal("0")),
                75: InvoiceTotal(1, Decimal("700")),
                None: InvoiceTotal(1, Decimal("400")),
            },
        )

    def test_stages_with_grace_days(self):
        """Ten grace days move the invoice 28 days late from stage 21 back to 7."""
        figures = expected_figures(
            self.invoices, self.as_of, STAGE_OFFSETS, grace_days=10
        )

        self.assertEqual(figures.stages[-3], InvoiceTotal(2, Decimal("1100")))
        self.assertEqual(figures.stages[7], InvoiceTotal(1, Decimal("200")))
        self.assertEqual(figures.stages[21], InvoiceTotal(0, Decimal("0")))
        self.assertEqual(figures.stages[75], InvoiceTotal(1, Decimal("700")))
        self.assertEqual(figures.stages[None], InvoiceTotal(1, Decimal("400")))

    def test_grace_days_keep_overdue(self):
        """Grace days delay the stages, not what is open or overdue."""
        figures = expected_figures(
            self.invoices, self.as_of, STAGE_OFFSETS, grace_days=10
        )

        self.assertEqual(figures.open_invoices, InvoiceTotal(5, Decimal("2400")))
        self.assertEqual(figures.overdue_invoices, InvoiceTotal(3, Decimal("1700")))

    def test_courtesy_stage_boundary(self):
        """The courtesy stage -3 starts exactly three days before the due date."""
        invoice = make_invoice(
            "due 2013-04-10",
            datetime.date(2013, 3, 11),
            datetime.date(2013, 5, 1),
            "50",
        )

        four_days_before = expected_figures(
            [invoice], datetime.date(2013, 4, 6), STAGE_OFFSETS
        )
        three_days_before = expected_figures(
            [invoice], datetime.date(2013, 4, 7), STAGE_OFFSETS, grace_days=10
        )

        self.assertEqual(four_days_before.stages[None], InvoiceTotal(1, Decimal("50")))
        self.assertEqual(four_days_before.stages[-3], InvoiceTotal(0, Decimal("0")))
        self.assertEqual(three_days_before.stages[-3], InvoiceTotal(1, Decimal("50")))
        self.assertEqual(three_days_before.overdue_invoices, InvoiceTotal())

    def test_reached_stage_offset_boundaries(self):
        """A stage is reached on its offset day, positive offsets after the grace."""
        cases = [
            # days from due, grace days, expected offset
            (-4, 0, None),
            (-3, 0, -3),
            (6, 0, -3),
            (7, 0, 7),
            (74, 0, 45),
            (75, 0, 75),
            (-3, 5, -3),
            (11, 5, -3),
            (12, 5, 7),
        ]
        for days_from_due, grace_days, offset in cases:
            with self.subTest(days_from_due=days_from_due, grace_days=grace_days):
                self.assertEqual(
                    reached_stage_offset(days_from_due, STAGE_OFFSETS, grace_days),
                    offset,
                )

    def test_zero_offset_ignores_grace(self):
        """A stage on the due date itself is not delayed by grace days."""
        self.assertEqual(reached_stage_offset(0, (0, 7), grace_days=5), 0)
        self.assertEqual(reached_stage_offset(11, (0, 7), grace_days=5), 0)
        self.assertEqual(reached_stage_offset(12, (0, 7), grace_days=5), 7)

    def test_disputed_open_invoice(self):
        """An open disputed invoice counts as open, overdue and disputed, in no
        stage."""
        disputed = make_invoice(
            "disputed 28 days late",
            datetime.date(2013, 2, 1),
            datetime.date(2013, 4, 15),
            "900",
            disputed=True,
        )
        figures = expected_figures(
            [*self.invoices, disputed], self.as_of, STAGE_OFFSETS
        )
        undisputed = expected_figures(self.invoices, self.as_of, STAGE_OFFSETS)

        self.assertEqual(figures.disputed_invoices, InvoiceTotal(1, Decimal("900")))
        self.assertEqual(figures.open_invoices, InvoiceTotal(6, Decimal("3300")))
        self.assertEqual(figures.overdue_invoices, InvoiceTotal(4, Decimal("2600")))
        self.assertEqual(figures.stages, undisputed.stages)

    def test_disputed_invoice_not_yet_due(self):
        """A disputed invoice not yet due is left out of the None stage too."""
        disputed = make_invoice(
            "disputed due in 14 days",
            datetime.date(2013, 3, 15),
            datetime.date(2013, 5, 1),
            "900",
            disputed=True,
        )
        figures = expected_figures(
            [*self.invoices, disputed], self.as_of, STAGE_OFFSETS
        )

        self.assertEqual(figures.disputed_invoices, InvoiceTotal(1, Decimal("900")))
        self.assertEqual(figures.overdue_invoices, InvoiceTotal(3, Decimal("1700")))
        self.assertEqual(figures.stages[None], InvoiceTotal(1, Decimal("400")))

    def test_disputed_invoices_not_open(self):
        """Disputed invoices settled by the date, or issued after it, count
        nowhere."""
        date = datetime.date
        disputed = [
            make_invoice(
                "settled before",
                date(2013, 1, 1),
                date(2013, 2, 10),
                "900",
                disputed=True,
            ),
            make_invoice(
                "settled today",
                date(2013, 1, 10),
                date(2013, 3, 31),
                "900",
                disputed=True,
            ),
            make_invoice(
                "issued after",
                date(2013, 4, 2),
                date(2013, 5, 10),
                "900",
                disputed=True,
            ),
        ]
        figures = expected_figures(
            [*self.invoices, *disputed], self.as_of, STAGE_OFFSETS
        )
        undisputed = expected_figures(self.invoices, self.as_of, STAGE_OFFSETS)

        self.assertEqual(figures.disputed_invoices, InvoiceTotal())
        self.assertEqual(figures.open_invoices, undisputed.open_invoices)
        self.assertEqual(figures.overdue_invoices, undisputed.overdue_invoices)
        self.assertEqual(figures.stages, undisputed.stages)

    def test_negative_grace_days(self):
        """Negative grace days are rejected."""
        with self.assertRaisesRegex(ValueError, r"grace_days must be zero or positive"):
            expected_figures(self.invoices, self.as_of, STAGE_OFFSETS, grace_days=-1)
