from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import format_amount, html2plaintext, mute_logger

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestMultiCompany(CollectionCommon):
    """One customer owes 300 in company A and 200 in company B.

    Both invoices fell due on 1 March 2024 and each company runs its collection
    on 10 March.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company
        cls.company_b = cls.setup_other_company(name="Company B")["company"]
        cls.invoice_a = cls.create_invoice(300, "2024-03-01")
        cls.invoice_b = cls.create_invoice(200, "2024-03-01", company=cls.company_b)

        run_model = cls.env["collection.run"]
        with freeze_time("2024-03-10"):
            cls.run_a = run_model._run_collections(
                run_date=date(2024, 3, 10), companies=cls.company_a
            )
            cls.run_b = run_model._run_collections(
                run_date=date(2024, 3, 10), companies=cls.company_b
            )
        cls.notice_a = cls.run_a.notice_ids
        cls.notice_b = cls.run_b.notice_ids

        cls.collector_a = new_test_user(
            cls.env,
            login="collector.a",
            name="Collector of A",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )

    def _mail_text_of(self, notice):
        mail = self.env["mail.mail"].search(
            [("model", "=", notice._name), ("res_id", "=", notice.id)]
        )
        self.assertEqual(len(mail), 1)
        return html2plaintext(mail.body_html).replace("\N{NO-BREAK SPACE}", " ")

    def _amount_text(self, amount, company):
        return format_amount(self.env, amount, company.currency_id).replace(
            "\N{NO-BREAK SPACE}", " "
        )

    def test_each_company_has_own_run(self):
        """Each company's run makes a run record of that company."""
        self.assertEqual(len(self.run_a), 1)
        self.assertEqual(self.run_a.company_id, self.company_a)
        self.assertEqual(len(self.run_b), 1)
        self.assertEqual(self.run_b.company_id, self.company_b)

    def test_each_company_has_own_notice(self):
        """Each run makes one notice of its own company for the customer."""
        self.assertEqual(len(self.notice_a), 1)
        self.assertEqual(self.notice_a.company_id, self.company_a)
        self.assertEqual(len(self.notice_b), 1)
        self.assertEqual(self.notice_b.company_id, self.company_b)

    def test_run_of_a_skips_b_items(self):
        """The run of A evaluates and stages the invoice of A only."""
        self.assertEqual(self.run_a.item_count, 1)
        self.assertEqual(self.run_a.history_ids.move_id, self.invoice_a)

    def test_notice_of_a_lists_only_a(self):
        """A's notice lists the invoice of 300 of A and nothing of B."""
        self.assertEqual(self.notice_a.line_ids.move_id, self.invoice_a)
        self.assertEqual(self.notice_a.line_ids.amount_residual, 300.0)

    def test_notice_of_a_totals_300(self):
        """A's notice requests 300, which is the sum of the rows it shows."""
        totals = self.notice_a._get_currency_totals()
        self.assertEqual(len(totals), 1)
        self.assertEqual(totals[0]["net"], 300.0)
        self.assertEqual(
            totals[0]["net"], sum(self.notice_a.line_ids.mapped("amount_residual"))
        )

    def test_notice_of_b_totals_200(self):
        """B's notice lists the invoice of 200 of B and requests 200."""
        self.assertEqual(self.notice_b.line_ids.move_id, self.invoice_b)
        totals = self.notice_b._get_currency_totals()
        self.assertEqual(len(totals), 1)
        self.assertEqual(totals[0]["net"], 200.0)
        self.assertEqual(
            totals[0]["net"], sum(self.notice_b.line_ids.mapped("amount_residual"))
        )

    def test_email_of_a_omits_b_amounts(self):
        """A's email shows 300 and neither B's 200 nor the 500 of both."""
        text = self._mail_text_of(self.notice_a)
        self.assertIn(self._amount_text(300.0, self.company_a), text)
        self.assertNotIn(self._amount_text(200.0, self.company_a), text)
        self.assertNotIn(self._amount_text(500.0, self.company_a), text)

    def test_email_of_a_sent_by_a(self):
        """A's email carries the name of company A, not of company B."""
        text = self._mail_text_of(self.notice_a)
        self.assertIn(self.company_a.name, text)
        self.assertNotIn(self.company_b.name, text)

    @freeze_time("2024-03-10")
    def test_customer_totals_per_company(self):
        """The customer owes 300 seen from A and 200 seen from B."""
        self.assertEqual(
            self.customer.with_company(self.company_a).collection_amount_due, 300.0
        )
        self.assertEqual(
            self.customer.with_company(self.company_b).collection_amount_due, 200.0
        )

    def test_b_notice_hidden_from_a_collector(self):
        """A collector allowed only in A finds A's notice and not B's."""
        notices = (
            self.env["collection.notice"]
            .with_user(self.collector_a)
            .search([("partner_id", "=", self.customer.id)])
        )
        self.assertEqual(notices, self.notice_a)

    @mute_logger("odoo.addons.base.models.ir_rule")
    def test_b_notice_unreadable_by_a_collector(self):
        """Reading B's notice by id as a collector of A raises AccessError."""
        notice_b = self.notice_b.with_user(self.collector_a)
        with self.assertRaises(AccessError):
            notice_b.read(["display_name"])

    def test_b_notice_lines_hidden_from_a_collector(self):
        """A collector allowed only in A finds the items of A's notice only."""
        lines = (
            self.env["collection.notice.line"]
            .with_user(self.collector_a)
            .search([("notice_id.partner_id", "=", self.customer.id)])
        )
        self.assertEqual(lines, self.notice_a.line_ids)

    def test_b_history_hidden_from_a_collector(self):
        """A collector allowed only in A finds the stage changes of A only."""
        history = (
            self.env["collection.history"]
            .with_user(self.collector_a)
            .search([("partner_id", "=", self.customer.id)])
        )
        self.assertEqual(history, self.run_a.history_ids)
        self.assertEqual(history.company_id, self.company_a)

    def test_b_runs_hidden_from_a_collector(self):
        """A collector allowed only in A finds the runs of A only."""
        runs = self.env["collection.run"].with_user(self.collector_a).search([])
        self.assertIn(self.run_a, runs)
        self.assertNotIn(self.run_b, runs)
        self.assertEqual(runs.company_id, self.company_a)
