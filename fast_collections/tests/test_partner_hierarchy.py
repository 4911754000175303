from freezegun import freeze_time

from odoo.tests import tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPartnerHierarchy(CollectionCommon):
    """A company with an accounting contact under it.

    The company owes 500 on an invoice addressed to itself, due 25 February
    2024, and 1,000 on an invoice addressed to its accounting contact, due
    1 March. Both are overdue on 10 March.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        partner_model = cls.env["res.partner"]
        cls.company_partner = partner_model.create(
            {
                "name": "Northwind Trading",
                "is_company": True,
                "email": "office@northwind.example.com",
            }
        )
        cls.accounting_contact = partner_model.create(
            {
                "name": "Nora Ledger",
                "type": "invoice",
                "parent_id": cls.company_partner.id,
                "email": "nora.ledger@northwind.example.com",
            }
        )
        cls.collections_contact = partner_model.create(
            {
                "name": "Carl Dunning",
                "type": "contact",
                "parent_id": cls.company_partner.id,
                "email": "carl.dunning@northwind.example.com",
            }
        )
        cls.invoice_to_company = cls.create_invoice(
            500, "2024-02-25", partner=cls.company_partner
        )
        cls.invoice_to_contact = cls.create_invoice(
            1000, "2024-03-01", partner=cls.accounting_contact
        )

    def _run(self):
        with freeze_time("2024-03-10"):
            return self.run_collection("2024-03-10")

    def test_one_notice_for_company(self):
        """Invoices to the company and to its contact give one notice."""
        run = self._run()
        self.assertEqual(len(run.notice_ids), 1)
        self.assertEqual(run.notice_ids.partner_id, self.company_partner)

    def test_contact_has_no_notice(self):
        """The contact is not a customer of its own: no notice is in its name."""
        self._run()
        self.assertFalse(self.notices_of(self.accounting_contact))

    def test_notice_lists_both_invoices(self):
        """The company's notice lists the 500 and the 1,000 and requests 1,500."""
        notice = self._run().notice_ids
        self.assertEqual(
            notice.line_ids.move_id, self.invoice_to_company | self.invoice_to_contact
        )
        totals = notice._get_currency_totals()
        self.assertEqual(totals[0]["net"], 1500.0)

    def test_history_on_company(self):
        """The stage changes of both invoices are recorded on the company."""
        run = self._run()
        self.assertEqual(run.history_ids.partner_id, self.company_partner)

    @freeze_time("2024-03-10")
    def test_totals_roll_up_to_company(self):
        """The company's total owed and overdue include its contact's invoice."""
        self.assertEqual(self.company_partner.collection_amount_due, 1500.0)
        self.assertEqual(self.company_partner.collection_amount_overdue, 1500.0)

    def test_email_goes_to_invoice_contact(self):
        """The invoice contact, whom the latest invoice names, gets the email."""
        notice = self._run().notice_ids
        self.assertEqual(notice.contact_id, self.accounting_contact)
        self.assertEqual(len(self.outgoing_mails_to(self.accounting_contact)), 1)

    def test_company_gets_no_email(self):
        """The company itself receives no email while it has a contact to write."""
        self._run()
        self.assertFalse(self.outgoing_mails_to(self.company_partner))

    def test_collections_contact_gets_email(self):
        """A collections contact set on the company receives the email."""
        self.company_partner.collection_contact_id = self.collections_contact
        notice = self._run().notice_ids
        self.assertEqual(notice.partner_id, self.company_partner)
        self.assertEqual(notice.contact_id, self.collections_contact)
        self.assertEqual(len(self.outgoing_mails_to(self.collections_contact)), 1)

    def test_invoice_contact_skipped_for_collections_contact(self):
        """With a collections contact set, the invoice contact gets no email."""
        self.company_partner.collection_contact_id = self.collections_contact
        self._run()
        self.assertFalse(self.outgoing_mails_to(self.accounting_contact))
