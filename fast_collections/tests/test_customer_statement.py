from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import html2plaintext, mute_logger

from .common import CollectionCommon

STATEMENT_REPORT = "fast_collections.action_report_customer_statement"


@tagged("post_install", "-at_install")
class TestCustomerStatement(CollectionCommon):
    """Customer statements of Acme Debtor in the test company.

    The company keeps its books in the currency of the test common (USD), its
    aging buckets are 30, 60 and 90 days, and each statement is made as of
    20 March 2025 unless a test sets another date.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.collection_aging_limits = "30,60,90"
        cls.as_of = date(2025, 3, 20)

    def statement_of(self, partner=None, as_of=None, company=None):
        return self.env[
            "report.fast_collections.report_customer_statement"
        ]._get_statement(
            partner or self.customer, company or self.company, as_of or self.as_of
        )

    def render_statement(self, partner=None, as_of=None, company=None):
        """Return the statement rendered as HTML, as plain text."""
        data = {"date": fields.Date.to_string(as_of or self.as_of)}
        if company:
            data["company_id"] = company.id
        html, __ = self.env["ir.actions.report"]._render_qweb_html(
            STATEMENT_REPORT, (partner or self.customer).ids, data=data
        )
        return html2plaintext(html.decode()).replace("\N{NO-BREAK SPACE}", " ")

    def create_unapplied_payment(self, amount, payment_date):
        """Post a customer payment of ``amount`` reconciled with nothing."""
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": amount,
                "date": payment_date,
                "journal_id": self.company_data["default_journal_bank"].id,
            }
        )
        payment.action_post()
        return payment

    # ------------------------------------------------------------------
    # Items and totals
    # ------------------------------------------------------------------

    def test_partial_payment_shows_residual(self):
        """C2: an invoice of 500 due 1 March with 200 paid on 5 March shows
        300 owed beside the original 500, 19 days overdue on 20 March."""
        invoice = self.create_invoice(500, "2025-03-01")
        self.pay_invoice(invoice, 200, "2025-03-05")

        statement = self.statement_of()

        [item] = statement["invoices"]
        self.assertEqual(item["move"], invoice)
        self.assertEqual(item["amount_original"], 500)
        self.assertEqual(item["amount_residual"], 300)
        self.assertEqual(item["days_overdue"], 19)
        [total] = statement["totals"]
        self.assertEqual(total["balance"], 300)
        self.assertEqual(total["to_pay"], 300)
        text = self.render_statement()
        self.assertIn(invoice.name, text)
        self.assertIn("500.00", text)
        self.assertIn("300.00", text)

    def test_payment_after_statement_date_not_deducted(self):
        """An invoice of 500 due 1 March paid 200 on 25 March: the statement
        as of 20 March still shows 500 owed, that of 26 March shows 300."""
        invoice = self.create_invoice(500, "2025-03-01")
        self.pay_invoice(invoice, 200, "2025-03-25")

        before = self.statement_of(as_of=date(2025, 3, 20))
        after = self.statement_of(as_of=date(2025, 3, 26))

        self.assertEqual(before["invoices"][0]["amount_residual"], 500)
        self.assertEqual(before["credits"], [])
        self.assertEqual(after["invoices"][0]["amount_residual"], 300)

    def test_invoice_after_statement_date_not_listed(self):
        """An invoice dated 25 March is not on the statement of 20 March."""
        self.create_invoice(700, "2025-04-24", invoice_date="2025-03-25")

        self.assertEqual(self.statement_of()["totals"], [])

    def test_credit_note_and_payment_lower_total(self):
        """C6: an overdue invoice of 1,000, an open credit note of 250, an
        unapplied payment of 100 and a cancelled credit note of 80: the
        balance is 1,000 - 250 - 100 = 650 and the cancelled note is not
        listed."""
        invoice = self.create_invoice(1000, "2025-03-01")
        credit_note = self.create_invoice(250, "2025-03-10", move_type="out_refund")
        cancelled = self.create_invoice(
            80, "2025-03-10", move_type="out_refund", post=False
        )
        cancelled.button_cancel()
        payment = self.create_unapplied_payment(100, "2025-03-12")

        statement = self.statement_of()

        self.assertEqual([item["move"] for item in statement["invoices"]], [invoice])
        credits = {
            item["move"]: item["amount_residual"] for item in statement["credits"]
        }
        self.assertEqual(credits, {credit_note: -250, payment.move_id: -100})
        [total] = statement["totals"]
        self.assertEqual(total["invoices"], 1000)
        self.assertEqual(total["credits"], -350)
        self.assertEqual(total["balance"], 650)
        self.assertEqual(total["to_pay"], 650)
        text = self.render_statement()
        self.assertIn("Credit notes and payments not yet applied", text)
        self.assertIn(credit_note.name, text)
        self.assertIn("650.00", text)
        self.assertNotIn("80.00", text)

    def test_penalty_invoice_shown_apart(self):
        """An invoice of 1,000 and an interest and fee invoice of 10.41 for it:
        the 10.41 is listed under interest and fees, not among the invoices,
        and the balance is 1,010.41."""
        invoice = self.create_invoice(1000, "2025-02-01")
        penalty = self.create_invoice(10.41, "2025-03-15", post=False)
        penalty.collection_is_penalty = True
        penalty.action_post()

        statement = self.statement_of()

        self.assertEqual([item["move"] for item in statement["invoices"]], [invoice])
        self.assertEqual([item["move"] for item in statement["penalties"]], [penalty])
        [total] = statement["totals"]
        self.assertEqual(total["invoices"], 1000)
        self.assertEqual(total["penalties"], 10.41)
        self.assertEqual(total["balance"], 1010.41)
        text = self.render_statement()
        self.assertIn("Late-payment interest and fees", text)
        self.assertIn(penalty.name, text)

    def test_disputed_amount_shown_apart(self):
        """An invoice of 1,000 of which 400 is disputed: the statement lists
        the 400 under dispute and requests 600 of the balance of 1,000."""
        invoice = self.create_invoice(1000, "2025-03-01")
        with freeze_time("2025-03-10"):
            dispute = self.env["collection.dispute"].create(
                {
                    "reason_id": self.env.ref(
                        "fast_collections.dispute_reason_defective"
                    ).id,
                    "line_ids": [
                        Command.create(
                            {
                                "move_line_id": self.receivable_lines(invoice).id,
                                "amount_disputed": 400,
                            }
                        )
                    ],
                }
            )

        statement = self.statement_of()

        [item] = statement["disputes"]
        self.assertEqual(item["move"], invoice)
        self.assertEqual(item["amount_disputed"], 400)
        self.assertEqual(item["dispute_names"], dispute.name)
        [total] = statement["totals"]
        self.assertEqual(total["balance"], 1000)
        self.assertEqual(total["disputed"], 400)
        self.assertEqual(total["to_pay"], 600)
        text = self.render_statement()
        self.assertIn("Amounts under dispute", text)
        self.assertIn(dispute.name, text)

    def test_closed_dispute_not_shown(self):
        """A dispute cancelled before the statement leaves nothing disputed."""
        invoice = self.create_invoice(1000, "2025-03-01")
        dispute = self.env["collection.dispute"].create(
            {
                "reason_id": self.env.ref(
                    "fast_collections.dispute_reason_defective"
                ).id,
                "line_ids": [
                    Command.create(
                        {
                            "move_line_id": self.receivable_lines(invoice).id,
                            "amount_disputed": 400,
                        }
                    )
                ],
            }
        )
        dispute.action_cancel()

        statement = self.statement_of()

        self.assertEqual(statement["disputes"], [])
        self.assertEqual(statement["totals"][0]["to_pay"], 1000)

    def test_aging_totals_by_bucket(self):
        """Five invoices aged on 20 March 2025 with buckets 30, 60 and 90:

        ======  ===========  ============  ===========
        amount  due date     days overdue  bucket
        ======  ===========  ============  ===========
           100  1 April                 0  Current
           200  10 March               10  1-30
           400  18 February            30  1-30
           800  17 February            31  31-60
         1,600  1 December            109  Over 90
        ======  ===========  ============  ===========

        Buckets: 100, 600, 800, 0 and 1,600, 3,100 in all. An open credit
        note of 50 is not aged.
        """
        self.create_invoice(100, "2025-04-01", invoice_date="2025-03-01")
        self.create_invoice(200, "2025-03-10")
        self.create_invoice(400, "2025-02-18")
        self.create_invoice(800, "2025-02-17")
        self.create_invoice(1600, "2024-12-01")
        self.create_invoice(50, "2025-03-01", move_type="out_refund")

        statement = self.statement_of()

        self.assertEqual(
            statement["aging_labels"], ["Current", "1-30", "31-60", "61-90", "Over 90"]
        )
        [aging] = statement["aging"]
        self.assertEqual(aging["buckets"], [100, 600, 800, 0, 1600])
        self.assertEqual(aging["total"], 3100)
        self.assertEqual(statement["totals"][0]["balance"], 3050)
        text = self.render_statement()
        self.assertIn("Over 90", text)
        self.assertIn("3,100.00", text)

    def test_aging_uses_company_buckets(self):
        """With the single limit of 15 days, invoices of 100 due 10 March
        (10 days) and 200 due 1 March (19 days) fall in 1-15 and over 15."""
        self.company.collection_aging_limits = "15"
        self.create_invoice(100, "2025-03-10")
        self.create_invoice(200, "2025-03-01")

        statement = self.statement_of()

        self.assertEqual(statement["aging_labels"], ["Current", "1-15", "Over 15"])
        self.assertEqual(statement["aging"][0]["buckets"], [0, 100, 200])

    def test_totals_per_currency(self):
        """An invoice of 1,000 in the company currency and two of 300 and 200
        EUR, the 200 of them paid 50: totals of 1,000 USD and 450 EUR, each
        in its own currency, never added together."""
        euro = self.setup_other_currency("EUR", rates=[("2025-01-01", 2.0)])
        self.create_invoice(1000, "2025-03-01")
        self.create_invoice(300, "2025-03-01", currency=euro)
        euro_invoice = self.create_invoice(200, "2025-03-01", currency=euro)
        self.pay_invoice(euro_invoice, 50, "2025-03-05")

        statement = self.statement_of()

        totals = {
            total["currency"].name: total["balance"] for total in statement["totals"]
        }
        company_currency = self.company.currency_id.name
        self.assertEqual(totals, {company_currency: 1000, "EUR": 450})
        aging = {row["currency"].name: row["total"] for row in statement["aging"]}
        self.assertEqual(aging, {company_currency: 1000, "EUR": 450})
        euro_items = [
            item for item in statement["invoices"] if item["currency"] == euro
        ]
        self.assertEqual(
            sorted(item["amount_residual"] for item in euro_items), [150, 300]
        )
        text = self.render_statement()
        self.assertIn("450.00", text)

    # ------------------------------------------------------------------
    # Company, date and language
    # ------------------------------------------------------------------

    def test_other_company_items_never_shown(self):
        """C10: the customer owes 300 in this company and 200 in company B.
        The statement of this company lists the 300 only, and that of B the
        200 only."""
        company_b = self.setup_other_company(name="Company B")["company"]
        invoice_a = self.create_invoice(300, "2025-03-01")
        invoice_b = self.create_invoice(200, "2025-03-01", company=company_b)

        statement_a = self.statement_of()
        statement_b = self.statement_of(company=company_b)

        self.assertEqual(
            [item["move"] for item in statement_a["invoices"]], [invoice_a]
        )
        self.assertEqual(statement_a["totals"][0]["balance"], 300)
        self.assertEqual(
            [item["move"] for item in statement_b["invoices"]], [invoice_b]
        )
        text = self.render_statement()
        self.assertIn(invoice_a.name, text)
        self.assertNotIn("200.00", text)

    def test_company_outside_user_companies_rejected(self):
        """A collector of this company only cannot print the statement of
        another company."""
        company_b = self.setup_other_company(name="Company B")["company"]
        collector = new_test_user(
            self.env,
            login="stella.statements",
            name="Stella Statements",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        report = self.env["ir.actions.report"].with_user(collector)

        with self.assertRaises(AccessError) as caught:
            report._render_qweb_html(
                STATEMENT_REPORT,
                self.customer.ids,
                data={"company_id": company_b.id},
            )

        self.assertIn("Company B", str(caught.exception))

    def test_collector_prints_statement(self):
        """A collector without accounting rights prints the statement of a
        customer that owes 500 and disputes 100 of it."""
        collector = new_test_user(
            self.env,
            login="stella.statements",
            name="Stella Statements",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        invoice = self.create_invoice(500, "2025-03-01")
        self.env["collection.dispute"].create(
            {
                "reason_id": self.env.ref(
                    "fast_collections.dispute_reason_defective"
                ).id,
                "line_ids": [
                    Command.create(
                        {
                            "move_line_id": self.receivable_lines(invoice).id,
                            "amount_disputed": 100,
                        }
                    )
                ],
            }
        )

        html, __ = (
            self.env["ir.actions.report"]
            .with_user(collector)
            ._render_qweb_html(STATEMENT_REPORT, self.customer.ids)
        )

        self.assertIn(invoice.name, html.decode())

    @freeze_time("2025-03-20 12:00:00")
    def test_default_date_is_company_today(self):
        """At noon UTC on 20 March it is already 21 March in Auckland: the
        statement of a company in that time zone is as of 21 March."""
        self.company.partner_id.tz = "Pacific/Auckland"

        values = self.env[
            "report.fast_collections.report_customer_statement"
        ]._get_report_values(self.customer.ids)

        statement = values["statements"][self.customer.id]
        self.assertEqual(statement["date"], date(2025, 3, 21))

    def test_contact_prints_commercial_partner_statement(self):
        """A statement asked for an accounting contact of Acme Debtor lists
        the invoices of Acme Debtor."""
        contact = self.env["res.partner"].create(
            {"name": "Ann Accounts", "parent_id": self.customer.id, "type": "invoice"}
        )
        invoice = self.create_invoice(400, "2025-03-01", partner=contact)

        text = self.render_statement(partner=contact)

        self.assertIn(invoice.name, text)
        self.assertIn("Acme Debtor", text)

    def test_rendered_in_customer_language(self):
        """The statement of a customer in Spanish writes the invoice date of
        1 March 2025 as 01/03/2025, and in English as 03/01/2025."""
        self.env["res.lang"]._activate_lang("es_ES")
        spanish = self.env["res.partner"].create(
            {"name": "Deudor Ibérico", "is_company": True, "lang": "es_ES"}
        )
        english = self.env["res.partner"].create(
            {"name": "English Debtor", "is_company": True, "lang": "en_US"}
        )
        self.create_invoice(500, "2025-03-01", partner=spanish)
        self.create_invoice(500, "2025-03-01", partner=english)

        spanish_text = self.render_statement(partner=spanish)
        english_text = self.render_statement(partner=english)

        self.assertIn("01/03/2025", spanish_text)
        self.assertNotIn("03/01/2025", spanish_text)
        self.assertIn("03/01/2025", english_text)

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    def test_send_statement_from_customer(self):
        """Send Statement opens the composer on the statement template, whose
        email goes to the customer with the statement attached."""
        self.create_invoice(500, "2025-03-01")
        action = self.customer.action_send_collection_statement()
        template = self.env.ref("fast_collections.mail_template_customer_statement")
        self.assertEqual(action["res_model"], "mail.compose.message")
        self.assertEqual(action["context"]["default_template_id"], template.id)

        composer = Form(
            self.env["mail.compose.message"].with_context(**action["context"])
        ).save()
        composer._action_send_mail()

        message = self.customer.message_ids[0]
        self.assertIn("statement of account", message.subject)
        self.assertEqual(message.partner_ids, self.customer)
        [attachment] = message.attachment_ids
        # Odoo renders reports as HTML in tests, for lack of wkhtmltopdf, and
        # names the file after the format rendered.
        self.assertEqual(attachment.name, "Statement - Acme Debtor.html")
        self.assertIn(b"Statement of account", attachment.raw)

    def test_statement_template_in_customer_language(self):
        """The statement email renders in the customer's language."""
        self.env["res.lang"]._activate_lang("es_ES")
        self.customer.lang = "es_ES"
        template = self.env.ref("fast_collections.mail_template_customer_statement")

        self.assertEqual(
            template._render_lang(self.customer.ids)[self.customer.id], "es_ES"
        )
        self.assertEqual(template.report_template_ids, self.env.ref(STATEMENT_REPORT))

    def test_stage_attaches_statement_to_notice(self):
        """C2 with the first reminder set to attach the statement: the run of
        20 March emails the notice with the statement, which requests 300."""
        self.stage_first.attach_statement = True
        invoice = self.create_invoice(500, "2025-03-01")
        self.pay_invoice(invoice, 200, "2025-03-05")

        run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        self.assertEqual(notice.stage_id, self.stage_first)
        self.assertEqual(notice.email_state, "sent")
        message = notice.message_ids.filtered(
            lambda message: message.message_type == "comment"
        )
        [attachment] = message.attachment_ids
        self.assertEqual(attachment.name, "Statement Acme Debtor 2025-03-20.pdf")
        # Odoo renders reports as HTML in tests, for lack of wkhtmltopdf.
        content = html2plaintext(attachment.raw.decode())
        self.assertIn("Statement of account", content)
        self.assertIn(invoice.name, content)
        self.assertIn("300.00", content)
        mail = self.outgoing_mails_to(notice.contact_id)
        self.assertEqual(mail.attachment_ids, attachment)

    def test_statement_failure_sends_notice_alone(self):
        """A statement that cannot be rendered (no wkhtmltopdf on the server)
        does not stop the reminder: the email goes without it and the notice
        says why.

        Odoo renders reports as HTML in tests, so the failure is raised by the
        notice's own rendering method, patched on the model class.
        """
        self.stage_first.attach_statement = True
        self.create_invoice(500, "2025-03-01")
        notice_class = type(self.env["collection.notice"])

        def render_fails(notice):
            # The message Odoo raises, which a test need not translate.
            raise UserError("Unable to find Wkhtmltopdf on this system.")  # pylint: disable=translation-required

        with (
            patch.object(notice_class, "_render_statement_attachment", render_fails),
            mute_logger("odoo.addons.fast_collections.models.collection_notice"),
        ):
            run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        self.assertEqual(notice.email_state, "sent")
        self.assertEqual(run.message_count, 1)
        message = notice.message_ids.filtered(
            lambda message: message.message_type == "comment"
        )
        self.assertFalse(message.attachment_ids)
        self.assertTrue(self.outgoing_mails_to(notice.contact_id))
        note = notice.message_ids.filtered(
            lambda message: "could not be attached" in (message.body or "")
        )
        self.assertIn("Wkhtmltopdf", note.body)

    def test_stage_without_flag_attaches_nothing(self):
        """A stage that does not attach the statement sends the notice alone."""
        self.create_invoice(500, "2025-03-01")

        run = self.run_collection("2025-03-20")

        message = run.notice_ids.message_ids.filtered(
            lambda message: message.message_type == "comment"
        )
        self.assertEqual(len(message), 1)
        self.assertFalse(message.attachment_ids)
