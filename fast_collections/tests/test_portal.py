from datetime import timedelta

from lxml import html

from odoo import Command, fields, http
from odoo.tests import HttpCase, new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPortal(CollectionCommon, HttpCase):
    """Customer portal: overdue items, promises, plans and disputes over HTTP.

    Acme Debtor owes an invoice of 500, due 20 days ago, on which 200 is paid:
    300 is still owed. Its portal user is a contact of Acme. Beta Other is
    another customer of the same company with an overdue invoice of 700, and
    Gamma has an overdue invoice of 900 in company A and of 150 in company B,
    with a portal user of company B.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.today()
        cls.collector = new_test_user(
            cls.env,
            login="portal_collector",
            password="portal_collector",
            name="Carla Collector",
            email="carla@collections.example.com",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector
        cls.portal_user = cls._create_portal_user(
            "acme_portal", cls.customer, cls.company
        )
        cls.invoice = cls.create_invoice(
            500,
            cls.today - timedelta(days=20),
            invoice_date=cls.today - timedelta(days=50),
        )
        cls.pay_invoice(cls.invoice, 200, cls.today - timedelta(days=5))
        cls.item = cls.invoice.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )

        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Beta Other", "is_company": True}
        )
        cls.other_portal_user = cls._create_portal_user(
            "beta_portal", cls.other_customer, cls.company
        )
        cls.other_invoice = cls.create_invoice(
            700,
            cls.today - timedelta(days=10),
            partner=cls.other_customer,
            invoice_date=cls.today - timedelta(days=40),
        )

        cls.company_b = cls.setup_other_company(name="Company B")["company"]
        cls.customer_ab = cls.env["res.partner"].create(
            {"name": "Gamma Both", "is_company": True}
        )
        cls.portal_user_b = cls._create_portal_user(
            "gamma_portal_b", cls.customer_ab, cls.company_b
        )
        cls.invoice_ab_in_a = cls.create_invoice(
            900, cls.today - timedelta(days=15), partner=cls.customer_ab
        )
        cls.invoice_ab_in_b = cls.create_invoice(
            150,
            cls.today - timedelta(days=15),
            partner=cls.customer_ab,
            company=cls.company_b,
        )
        cls.reason = cls.env["collection.dispute.reason"].search([], limit=1)

    @classmethod
    def _create_portal_user(cls, login, customer, company):
        """Create a portal user for a new contact of ``customer``."""
        contact = cls.env["res.partner"].create(
            {
                "name": f"Contact of {customer.name}",
                "parent_id": customer.id,
                "email": f"{login}@customers.example.com",
            }
        )
        return new_test_user(
            cls.env,
            login=login,
            password=login,
            groups="base.group_portal",
            partner_id=contact.id,
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def login_as(self, user):
        self.authenticate(user.login, user.login)

    def get_page(self, url="/my/collections"):
        response = self.url_open(url, timeout=60)
        self.assertEqual(response.status_code, 200)
        return html.fromstring(response.content)

    def post(self, url, values, files=None, csrf=True):
        data = list(values.items()) if isinstance(values, dict) else list(values)
        if csrf:
            data.append(("csrf_token", http.Request.csrf_token(self)))
        return self.url_open(url, data=data, files=files, timeout=60)

    def promises_of(self, partner):
        return self.env["collection.promise"].search([("partner_id", "=", partner.id)])

    def disputes_of(self, partner):
        return self.env["collection.dispute"].search([("partner_id", "=", partner.id)])

    def create_sent_plan(self, invoice, instalments=2):
        """Create a plan over ``invoice`` in instalments and mark it sent."""
        lines = self.receivable_lines(invoice)
        plan = self.env["collection.plan"].create(
            {
                "move_line_ids": [Command.set(lines.ids)],
                "instalment_count": instalments,
                "frequency": "monthly",
                "date_first": self.today + timedelta(days=30),
            }
        )
        plan.action_generate_schedule()
        plan.action_propose()
        self.assertEqual(plan.state, "approved")
        # Posting with this key is what the email composer does when the
        # collector sends the plan, without rendering the PDF.
        plan.with_context(mark_plan_as_sent=True).message_post(body="Plan sent")
        self.assertEqual(plan.state, "sent")
        return plan

    def item_row(self, page, item):
        rows = page.xpath(f"//tr[@data-item-id='{item.id}']")
        self.assertEqual(len(rows), 1, f"one row for item {item.id}")
        return rows[0]

    # ------------------------------------------------------------------
    # Overdue items page
    # ------------------------------------------------------------------

    def test_page_shows_amount_still_owed(self):
        """500 overdue with 200 paid: the page shows 300 still owed, shows 500 beside
        it, 20 days overdue and links to the invoice's own portal page."""
        self.login_as(self.portal_user)

        page = self.get_page()

        row = self.item_row(page, self.item)
        residual = row.xpath(".//td[contains(@class, 'o_collection_residual')]")[0]
        original = row.xpath(".//td[contains(@class, 'o_collection_original')]")[0]
        days = row.xpath(".//td[contains(@class, 'o_collection_days')]")[0]
        self.assertIn("300.00", residual.text_content())
        self.assertIn("500.00", original.text_content())
        self.assertEqual(days.text_content().strip(), "20")
        pay_link = row.xpath(".//a[contains(@class, 'o_collection_pay_link')]")[0]
        self.assertEqual(pay_link.get("href"), self.invoice.get_portal_url())

    def test_home_counter_counts_overdue_items(self):
        """The /my counter of Acme's portal user is 1: its one overdue item."""
        self.login_as(self.portal_user)

        counters = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["collection_overdue_count"]}
        )

        self.assertEqual(counters["collection_overdue_count"], 1)

    def test_page_hides_other_customers(self):
        """Acme's portal user sees neither Beta's invoice of 700 nor Gamma's
        invoices, in the list or in the counter."""
        self.login_as(self.portal_user)

        page = self.get_page()

        shown = {
            int(row.get("data-item-id")) for row in page.xpath("//tr[@data-item-id]")
        }
        self.assertEqual(shown, set(self.item.ids))
        text = page.text_content()
        self.assertNotIn(self.other_invoice.name, text)
        self.assertNotIn(self.invoice_ab_in_a.name, text)

    def test_company_b_user_sees_nothing_of_a(self):
        """Gamma's portal user of company B is shown its 150 in B, never its 900
        owed in company A."""
        self.login_as(self.portal_user_b)

        page = self.get_page()

        shown = {
            int(row.get("data-item-id")) for row in page.xpath("//tr[@data-item-id]")
        }
        self.assertEqual(shown, set(self.receivable_lines(self.invoice_ab_in_b).ids))
        self.assertNotIn(self.invoice_ab_in_a.name, page.text_content())

    def test_company_b_user_cannot_promise_on_a(self):
        """A promise of company B's portal user on Gamma's item in company A
        gets 404 and creates nothing."""
        self.login_as(self.portal_user_b)
        item_in_a = self.receivable_lines(self.invoice_ab_in_a)

        response = self.post(
            "/my/collections/promise",
            {
                "item_ids": str(item_in_a.id),
                "date_promised": str(self.today + timedelta(days=5)),
                "amount": "100",
            },
        )

        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.promises_of(self.customer_ab))

    # ------------------------------------------------------------------
    # Promise to pay
    # ------------------------------------------------------------------

    def test_promise_recorded_from_portal(self):
        """Acme promises 250 of the 300 owed in 10 days: the promise has that
        amount and date, the portal channel, the portal user as creator and
        the customer's collector, and the invoice's chatter shows it."""
        self.login_as(self.portal_user)
        date_promised = self.today + timedelta(days=10)

        response = self.post(
            "/my/collections/promise",
            {
                "item_ids": str(self.item.id),
                "date_promised": str(date_promised),
                "amount": "250.00",
                "note": "Paying after our customer pays us.",
            },
        )

        self.assertEqual(response.status_code, 200)
        self.assertIn("/my/collections", response.url)
        promise = self.promises_of(self.customer)
        self.assertEqual(len(promise), 1)
        self.assertEqual(promise.amount, 250.0)
        self.assertEqual(promise.date_promised, date_promised)
        self.assertEqual(promise.channel, "portal")
        self.assertEqual(promise.move_line_ids, self.item)
        self.assertEqual(promise.create_uid, self.portal_user)
        self.assertEqual(promise.user_id, self.collector)
        self.assertEqual(promise.note, "Paying after our customer pays us.")
        message = self.invoice.message_ids.filtered(
            lambda message: promise.name in (message.body or "")
        )
        self.assertEqual(message.author_id, self.portal_user.partner_id)

    def test_promise_above_amount_owed_rejected(self):
        """A promise of 400 on the 300 owed is rejected with a message that
        names the 300, and nothing is created."""
        self.login_as(self.portal_user)

        response = self.post(
            "/my/collections/promise",
            {
                "item_ids": str(self.item.id),
                "date_promised": str(self.today + timedelta(days=10)),
                "amount": "400",
            },
        )

        self.assertEqual(response.status_code, 400)
        errors = html.fromstring(response.content).xpath(
            "//div[contains(@class, 'o_collection_errors')]"
        )
        self.assertIn("more than the", errors[0].text_content())
        self.assertIn("300.00", errors[0].text_content())
        self.assertFalse(self.promises_of(self.customer))

    def test_promise_input_checks(self):
        """A date in the past, a text date, a date beyond the 30 days of the
        portal horizon, a zero amount, a text amount and no invoice are each
        rejected with their own message."""
        self.login_as(self.portal_user)
        cases = [
            ({"date_promised": str(self.today - timedelta(days=1))}, "in the past"),
            ({"date_promised": "next week"}, "not a valid date"),
            ({"date_promised": str(self.today + timedelta(days=31))}, "too far away"),
            ({"date_promised": "9999-12-31"}, "too far away"),
            ({"amount": "0"}, "greater than zero"),
            ({"amount": "a lot"}, "not a number"),
            ({"item_ids": None}, "Select at least one overdue invoice"),
        ]
        for change, expected in cases:
            with self.subTest(change=change):
                values = {
                    "item_ids": str(self.item.id),
                    "date_promised": str(self.today + timedelta(days=10)),
                    "amount": "100",
                    **change,
                }
                values = {key: value for key, value in values.items() if value}

                response = self.post("/my/collections/promise", values)

                self.assertEqual(response.status_code, 400)
                self.assertIn(expected, response.text)
                self.assertFalse(self.promises_of(self.customer))

    def test_promise_on_other_customer_item_refused(self):
        """Acme's portal user posting a promise on Beta's item gets 404, and no
        promise exists for either customer."""
        self.login_as(self.portal_user)
        other_item = self.receivable_lines(self.other_invoice)

        response = self.post(
            "/my/collections/promise",
            [
                ("item_ids", str(self.item.id)),
                ("item_ids", str(other_item.id)),
                ("date_promised", str(self.today + timedelta(days=5))),
                ("amount", "100"),
            ],
        )

        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.promises_of(self.customer))
        self.assertFalse(self.promises_of(self.other_customer))

    def test_promise_without_csrf_token_refused(self):
        """A promise posted without the CSRF token is refused (400)."""
        self.login_as(self.portal_user)

        response = self.post(
            "/my/collections/promise",
            {
                "item_ids": str(self.item.id),
                "date_promised": str(self.today + timedelta(days=5)),
                "amount": "100",
            },
            csrf=False,
        )

        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.promises_of(self.customer))

    # ------------------------------------------------------------------
    # Payment plan
    # ------------------------------------------------------------------

    def test_plan_accepted_from_portal(self):
        """Acme accepts the plan of 300 in two instalments sent to it: the plan
        is active, accepted by the portal user just now through the portal,
        and the invoice's chatter records it."""
        plan = self.create_sent_plan(self.invoice)
        self.login_as(self.portal_user)
        page = self.get_page()
        self.assertTrue(page.xpath(f"//div[@data-plan-id='{plan.id}']"))
        before = fields.Datetime.now().replace(microsecond=0)

        response = self.post(
            f"/my/collections/plan/{plan.id}/accept", {"accept_terms": "1"}
        )

        self.assertEqual(response.status_code, 200)
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.accepted_by_id, self.portal_user)
        self.assertEqual(plan.acceptance_channel, "portal")
        self.assertGreaterEqual(plan.date_accepted, before)
        self.assertEqual(plan.amount_total, 300.0)
        self.assertTrue(
            self.invoice.message_ids.filtered(
                lambda message: f"{plan.name} accepted" in (message.body or "")
            )
        )

    def test_plan_acceptance_needs_confirmation(self):
        """Without the confirmation box ticked the plan stays sent."""
        plan = self.create_sent_plan(self.invoice)
        self.login_as(self.portal_user)

        response = self.post(f"/my/collections/plan/{plan.id}/accept", {})

        self.assertEqual(response.status_code, 400)
        self.assertIn("Tick the box", response.text)
        self.assertEqual(plan.state, "sent")

    def test_plan_on_disputed_invoice_refused(self):
        """A plan sent, then its invoice disputed from the portal: accepting
        the plan is refused and it stays sent."""
        plan = self.create_sent_plan(self.invoice)
        self.env["collection.dispute"].create(
            {
                "partner_id": self.customer.id,
                "reason_id": self.env["collection.dispute.reason"]
                .search([], limit=1)
                .id,
                "description": "Wrong quantity.",
                "line_ids": [
                    Command.create(
                        {"move_line_id": self.item.id, "amount_disputed": 300}
                    )
                ],
            }
        )
        self.login_as(self.portal_user)

        response = self.post(
            f"/my/collections/plan/{plan.id}/accept", {"accept_terms": "1"}
        )

        self.assertEqual(response.status_code, 400)
        self.assertEqual(plan.state, "sent")

    def test_plan_of_paid_invoice_refused(self):
        """A plan sent, then its invoice paid in full: accepting it is refused
        with a message, and the plan stays sent."""
        plan = self.create_sent_plan(self.invoice)
        self.pay_invoice(self.invoice, 300, self.today)
        self.login_as(self.portal_user)

        response = self.post(
            f"/my/collections/plan/{plan.id}/accept", {"accept_terms": "1"}
        )

        self.assertIn(response.status_code, (400, 404))
        self.assertEqual(plan.state, "sent")

    def test_plan_of_other_customer_refused(self):
        """Beta's portal user accepting Acme's plan gets 404 and the plan stays
        sent with no acceptance recorded."""
        plan = self.create_sent_plan(self.invoice)
        self.login_as(self.other_portal_user)

        response = self.post(
            f"/my/collections/plan/{plan.id}/accept", {"accept_terms": "1"}
        )

        self.assertEqual(response.status_code, 404)
        self.assertEqual(plan.state, "sent")
        self.assertFalse(plan.accepted_by_id)

    # ------------------------------------------------------------------
    # Dispute
    # ------------------------------------------------------------------

    def test_dispute_raised_from_portal(self):
        """Acme disputes its invoice with a reason, a text and one photo: the
        dispute covers the 300 still owed, keeps the photo as evidence, goes to
        the collector as an activity and a notification, and the invoice's
        chatter shows it."""
        self.login_as(self.portal_user)

        response = self.post(
            f"/my/collections/dispute/{self.invoice.id}",
            {"reason_id": str(self.reason.id), "description": "Two boxes broken."},
            files={"attachments": ("boxes.jpg", b"fake jpeg bytes", "image/jpeg")},
        )

        self.assertEqual(response.status_code, 200)
        dispute = self.disputes_of(self.customer)
        self.assertEqual(len(dispute), 1)
        self.assertEqual(dispute.reason_id, self.reason)
        self.assertIn("Two boxes broken.", dispute.description)
        self.assertEqual(dispute.amount_disputed, 300.0)
        self.assertEqual(dispute.line_ids.move_line_id, self.item)
        self.assertEqual(dispute.create_uid, self.portal_user)
        self.assertEqual(dispute.user_id, self.collector)
        self.assertEqual(dispute.attachment_ids.mapped("name"), ["boxes.jpg"])
        self.assertEqual(dispute.attachment_ids.res_model, "collection.dispute")
        self.assertEqual(dispute.attachment_ids.res_id, dispute.id)
        self.assertEqual(dispute.attachment_ids.raw, b"fake jpeg bytes")
        self.assertEqual(dispute.activity_ids.user_id, self.collector)
        notified = self.env["mail.notification"].search(
            [
                ("mail_message_id", "in", dispute.message_ids.ids),
                ("res_partner_id", "=", self.collector.partner_id.id),
            ]
        )
        self.assertTrue(notified)
        self.assertEqual(
            notified.mail_message_id.attachment_ids, dispute.attachment_ids
        )
        self.assertTrue(
            self.invoice.message_ids.filtered(
                lambda message: f"Dispute {dispute.name} opened" in (message.body or "")
            )
        )

    def test_dispute_needs_reason_and_text(self):
        """A dispute without a reason or without a text is rejected with a
        message for each, and nothing is created."""
        self.login_as(self.portal_user)

        response = self.post(
            f"/my/collections/dispute/{self.invoice.id}",
            {"reason_id": "", "description": "  "},
        )

        self.assertEqual(response.status_code, 400)
        self.assertIn("Choose the reason", response.text)
        self.assertIn("Describe what you contest", response.text)
        self.assertFalse(self.disputes_of(self.customer))

    def test_dispute_upload_limits(self):
        """Eleven files, or one file above 10 MB, are rejected and nothing is
        created."""
        self.login_as(self.portal_user)
        values = {"reason_id": str(self.reason.id), "description": "Broken."}
        many = [
            ("attachments", (f"photo{index}.jpg", b"bytes", "image/jpeg"))
            for index in range(11)
        ]
        response = self.post(
            f"/my/collections/dispute/{self.invoice.id}", values, files=many
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("at most 10 files", response.text)

        large = b"x" * (10 * 1024 * 1024 + 1)
        response = self.post(
            f"/my/collections/dispute/{self.invoice.id}",
            values,
            files={"attachments": ("scan.pdf", large, "application/pdf")},
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("larger than 10 MB", response.text)
        self.assertFalse(self.disputes_of(self.customer))

    def test_dispute_on_other_customer_invoice_refused(self):
        """Acme's portal user opening or posting a dispute on Beta's invoice
        gets 404, and Beta has no dispute."""
        self.login_as(self.portal_user)
        url = f"/my/collections/dispute/{self.other_invoice.id}"

        page = self.url_open(url, timeout=60)
        response = self.post(
            url, {"reason_id": str(self.reason.id), "description": "Not ours."}
        )

        self.assertEqual(page.status_code, 404)
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.disputes_of(self.other_customer))

    def test_dispute_tour(self):
        """A portal user goes from /my to the overdue items and disputes the
        invoice of 500 (300 owed) in the browser."""
        self.start_tour("/my", "fast_collections_portal_dispute", login="acme_portal")

        dispute = self.disputes_of(self.customer)
        self.assertEqual(len(dispute), 1)
        self.assertEqual(dispute.amount_disputed, 300.0)
        self.assertEqual(
            dispute.reason_id,
            self.env["collection.dispute.reason"].search([], limit=1),
        )
        self.assertIn("Two of the ten boxes arrived broken.", dispute.description)
