from odoo import Command, fields

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class CollectionCommon(AccountTestInvoicingCommon):
    """Company with the shipped collection policy, a customer and helpers.

    Shipped stages, in days from the due date: courtesy reminder -3, first
    reminder +7, second reminder +21, formal notice +45, hand-over to legal +75.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        cls.env.user.groups_id |= cls.env.ref(
            "fast_collections.group_collection_manager"
        )
        cls.policy = cls.env.ref("fast_collections.collection_policy_default")
        cls.company.collection_policy_id = cls.policy
        stages = cls.policy.stage_ids.sorted("offset_days")
        (
            cls.stage_courtesy,
            cls.stage_first,
            cls.stage_second,
            cls.stage_formal,
            cls.stage_legal,
        ) = stages
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Acme Debtor",
                "is_company": True,
                "email": "accounts@acme-debtor.example.com",
            }
        )

    @classmethod
    def create_invoice(
        cls,
        amount,
        due_date,
        partner=None,
        invoice_date=None,
        currency=None,
        payment_term=None,
        company=None,
        move_type="out_invoice",
        post=True,
    ):
        """Create a customer invoice of one untaxed line of ``amount``."""
        company = company or cls.company
        due_date = fields.Date.to_date(due_date)
        values = {
            "move_type": move_type,
            "partner_id": (partner or cls.customer).id,
            "invoice_date": fields.Date.to_date(invoice_date) or due_date,
            "company_id": company.id,
            "invoice_line_ids": [
                Command.create(
                    {"name": "Services", "price_unit": amount, "tax_ids": []}
                )
            ],
        }
        if currency:
            values["currency_id"] = currency.id
        if payment_term:
            values["invoice_payment_term_id"] = payment_term.id
        elif move_type != "out_refund":
            values["invoice_date_due"] = due_date
        invoice = cls.env["account.move"].with_company(company).create(values)
        if post:
            invoice.action_post()
        return invoice

    @classmethod
    def create_instalment_term(cls, days):
        """Create a payment term of equal instalments due ``days`` after the
        invoice date."""
        return cls.env["account.payment.term"].create(
            {
                "name": f"{len(days)} instalments",
                "line_ids": [
                    Command.create(
                        {
                            "value": "percent",
                            "value_amount": 100 / len(days),
                            "nb_days": nb_days,
                        }
                    )
                    for nb_days in days
                ],
            }
        )

    @classmethod
    def pay_invoice(cls, invoice, amount, payment_date, currency=None):
        """Register a payment of ``amount`` on ``invoice`` on ``payment_date``."""
        wizard = (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "amount": amount,
                    "payment_date": fields.Date.to_date(payment_date),
                    "currency_id": (currency or invoice.currency_id).id,
                }
            )
        )
        return wizard._create_payments()

    def run_collection(self, run_date, partners=None, company=None):
        """Run the collection of ``company`` for ``run_date`` and return the run."""
        return self.env["collection.run"]._run_collections(
            run_date=fields.Date.to_date(run_date),
            companies=company or self.company,
            partners=partners,
        )

    def receivable_lines(self, invoice):
        return invoice.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        ).sorted("date_maturity")

    def notices_of(self, partner=None):
        return self.env["collection.notice"].search(
            [("partner_id", "=", (partner or self.customer).id)], order="id"
        )

    def outgoing_mails_to(self, partner):
        return self.env["mail.mail"].search(
            [("recipient_ids", "in", partner.ids)], order="id"
        )
