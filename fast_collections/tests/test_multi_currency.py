from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import format_amount, html2plaintext

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestMultiCurrency(CollectionCommon):
    """Company keeping its books in EUR, chasing an invoice issued in USD.

    1 EUR buys 1.25 USD when the invoice of 20,000 USD is issued (16,000 EUR)
    and 1 USD when 8,000 USD are paid (8,000 EUR). Reconciling the payment
    books an exchange difference of 1,600 EUR, and 12,000 USD are still owed.
    The tolerance tests also bill in 2023, when 1 EUR bought 0.5 USD.
    """

    @classmethod
    def setup_independent_company(cls, **kwargs):
        euro = cls._enable_currency("EUR")
        return super().setup_independent_company(currency_id=euro.id, **kwargs)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.usd = cls.setup_other_currency(
            "USD",
            rates=[
                ("2023-01-01", 0.5),
                ("2024-01-01", 1.25),
                ("2024-02-15", 1.0),
            ],
        )
        cls.invoice = cls.create_invoice(
            20000, "2024-02-10", invoice_date="2024-01-10", currency=cls.usd
        )
        cls.pay_invoice(cls.invoice, 8000, "2024-02-20")
        cls.exchange_move = cls.invoice.line_ids.matched_credit_ids.exchange_move_id

        with freeze_time("2024-02-20"):
            cls.collection_run = cls.env["collection.run"]._run_collections(
                run_date=date(2024, 2, 20), companies=cls.company
            )
        cls.notice = cls.collection_run.notice_ids

    def _mail_text_of(self, notice):
        mail = self.env["mail.mail"].search(
            [("model", "=", notice._name), ("res_id", "=", notice.id)]
        )
        self.assertEqual(len(mail), 1)
        return html2plaintext(mail.body_html).replace("\N{NO-BREAK SPACE}", " ")

    def test_company_currency_is_euro(self):
        """The company keeps its books in EUR, so USD is a foreign currency."""
        self.assertEqual(self.company.currency_id.name, "EUR")

    def test_residual_left_in_usd(self):
        """20,000 USD less 8,000 USD paid leaves 12,000 USD, worth 9,600 EUR."""
        item = self.receivable_lines(self.invoice)
        self.assertEqual(item.amount_residual_currency, 12000.0)
        self.assertEqual(item.amount_residual, 9600.0)

    def test_notice_line_in_usd(self):
        """The notice line contains the residual in USD, not its EUR value."""
        line = self.notice.line_ids
        self.assertEqual(len(line), 1)
        self.assertEqual(line.currency_id, self.usd)
        self.assertEqual(line.amount_residual, 12000.0)
        self.assertEqual(line.amount_original, 20000.0)

    def test_notice_totals_in_usd(self):
        """The notice totals request 12,000 USD."""
        totals = self.notice._get_currency_totals()
        self.assertEqual(len(totals), 1)
        self.assertEqual(totals[0]["currency"], self.usd)
        self.assertEqual(totals[0]["overdue"], 12000.0)
        self.assertEqual(totals[0]["net"], 12000.0)

    def test_history_amount_in_usd(self):
        """The stage change records the 12,000 USD owed when it was reached."""
        history = self.invoice.collection_history_ids.filtered(
            lambda row: row.stage_id == self.stage_first
        )
        self.assertEqual(history.currency_id, self.usd)
        self.assertEqual(history.amount_residual, 12000.0)

    def test_email_requests_usd_residual(self):
        """The email requests $ 12,000.00 and shows no amount in EUR."""
        text = self._mail_text_of(self.notice)
        requested = format_amount(self.env, 12000.0, self.usd).replace(
            "\N{NO-BREAK SPACE}", " "
        )
        self.assertIn(requested, text)
        self.assertIn("$", requested)
        self.assertNotIn("€", text)
        self.assertNotIn("9,600.00", text)

    def test_exchange_difference_booked(self):
        """Paying at another rate books an exchange difference of 1,600 EUR."""
        self.assertEqual(len(self.exchange_move), 1)
        self.assertEqual(self.exchange_move.move_type, "entry")
        receivable = self.exchange_move.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        self.assertEqual(abs(receivable.balance), 1600.0)

    def test_exchange_difference_not_chased(self):
        """The exchange difference entry gets no stage and no stage history."""
        self.assertFalse(self.exchange_move.line_ids.collection_stage_id)
        history_count = self.env["collection.history"].search_count(
            [("move_id", "=", self.exchange_move.id)]
        )
        self.assertEqual(history_count, 0)

    def test_exchange_difference_not_a_notice_line(self):
        """The notice lists the invoice only, not the exchange difference."""
        self.assertEqual(self.notice.line_ids.move_id, self.invoice)
        line_count = self.env["collection.notice.line"].search_count(
            [("move_id", "=", self.exchange_move.id)]
        )
        self.assertEqual(line_count, 0)

    def test_run_evaluates_invoice_only(self):
        """The run evaluates the invoice item and nothing of the exchange entry."""
        self.assertEqual(self.collection_run.item_count, 1)

    def test_tolerance_met_in_usd_chased(self):
        """110 USD is chased under a tolerance of 100 though it is worth 88 EUR."""
        self.policy.tolerance_amount = 100.0
        customer = self.env["res.partner"].create(
            {"name": "Dollar Small Ltd", "email": "ap@dollar-small.example.com"}
        )
        invoice = self.create_invoice(
            110,
            "2024-02-10",
            partner=customer,
            invoice_date="2024-01-10",
            currency=self.usd,
        )
        self.assertEqual(self.receivable_lines(invoice).balance, 88.0)

        with freeze_time("2024-02-20"):
            run = self.run_collection("2024-02-20", partners=customer)

        self.assertEqual(invoice.collection_stage_id, self.stage_first)
        self.assertEqual(run.skipped_count, 0)

    def test_tolerance_missed_in_usd_skipped(self):
        """90 USD is below a tolerance of 100 though it is worth 180 EUR."""
        self.policy.tolerance_amount = 100.0
        customer = self.env["res.partner"].create(
            {"name": "Dollar Tiny Ltd", "email": "ap@dollar-tiny.example.com"}
        )
        invoice = self.create_invoice(
            90,
            "2023-03-31",
            partner=customer,
            invoice_date="2023-03-01",
            currency=self.usd,
        )
        self.assertEqual(self.receivable_lines(invoice).balance, 180.0)

        with freeze_time("2023-04-10"):
            run = self.run_collection("2023-04-10", partners=customer)

        self.assertFalse(invoice.collection_stage_id)
        self.assertEqual(run.skipped_count, 1)
        self.assertIn("below the policy's tolerance: 1", run.skip_summary)
