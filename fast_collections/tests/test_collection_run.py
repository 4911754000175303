from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestCollectionRun(CollectionCommon):
    def test_escalation_across_days(self):
        """A daily run moves an unpaid invoice through every stage on its day."""
        invoice = self.create_invoice(1000, "2025-01-31", invoice_date="2025-01-01")
        entered = {}
        day = date(2025, 1, 20)
        while day <= date(2025, 4, 30):
            with freeze_time(day):
                self.run_collection(day)
            stage = invoice.collection_stage_id
            if stage and stage not in entered:
                entered[stage] = day
            day += timedelta(days=1)

        self.assertEqual(entered[self.stage_courtesy], date(2025, 1, 28))
        self.assertEqual(entered[self.stage_first], date(2025, 2, 7))
        self.assertEqual(entered[self.stage_second], date(2025, 2, 21))
        self.assertEqual(entered[self.stage_formal], date(2025, 3, 17))
        self.assertEqual(entered[self.stage_legal], date(2025, 4, 16))
        notices = self.notices_of()
        self.assertEqual(len(notices), 5)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 5)
        self.assertEqual(invoice.collection_history_ids.mapped("state"), ["done"] * 5)

    def test_stage_actions_of_formal_notice(self):
        """The formal notice sends an email, queues a letter, plans a call
        and puts the customer on credit hold; paying lifts the hold."""
        collector = self.env["res.users"].create(
            {
                "name": "Carla Collector",
                "login": "carla.collector",
                "groups_id": [
                    Command.link(self.env.ref("base.group_user").id),
                    Command.link(
                        self.env.ref("fast_collections.group_collection_user").id
                    ),
                ],
            }
        )
        self.customer.collection_user_id = collector
        invoice = self.create_invoice(800, "2025-01-01")

        run = self.run_collection("2025-02-15")

        notice = run.notice_ids
        self.assertEqual(notice.stage_id, self.stage_formal)
        self.assertEqual(notice.email_state, "sent")
        self.assertEqual(notice.letter_state, "to_print")
        self.assertEqual(notice.activity_ids.user_id, collector)
        self.assertEqual(notice.activity_ids.date_deadline, date(2025, 2, 17))
        self.assertTrue(self.customer.collection_credit_hold)
        self.assertEqual(run.message_count, 1)
        self.assertEqual(run.activity_count, 1)
        self.assertEqual(run.letter_count, 1)

        self.pay_invoice(invoice, 800, "2025-02-20")
        self.run_collection("2025-02-21")
        self.assertFalse(self.customer.collection_credit_hold)

    def test_one_notice_per_customer(self):
        """Three overdue invoices of one customer give one notice and one email."""
        self.create_invoice(100, "2025-03-01")
        self.create_invoice(200, "2025-03-05")
        self.create_invoice(300, "2025-02-15")

        run = self.run_collection("2025-03-20")

        self.assertEqual(run.changed_count, 3)
        self.assertEqual(len(run.notice_ids), 1)
        self.assertEqual(run.notice_ids.stage_id, self.stage_second)
        self.assertEqual(len(run.notice_ids.line_ids), 3)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)

    def test_repeated_run_sends_nothing(self):
        """Running twice on the same day queues no second email."""
        self.create_invoice(1000, "2025-03-01")
        first = self.run_collection("2025-03-20")
        second = self.run_collection("2025-03-20")

        self.assertEqual(first.message_count, 1)
        self.assertEqual(second.changed_count, 0)
        self.assertEqual(second.message_count, 0)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)

    def test_partial_payment_chases_residual(self):
        """C1: 1,000 due 1 March, 400 paid 10 March, run 20 March: 600 chased,
        and the reminder sent before the payment stays visible."""
        invoice = self.create_invoice(1000, "2025-03-01", invoice_date="2025-02-01")
        self.run_collection("2025-02-26")
        self.pay_invoice(invoice, 400, "2025-03-10")

        run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        self.assertEqual(notice.stage_id, self.stage_first)
        self.assertEqual(notice.line_ids.amount_residual, 600)
        self.assertEqual(notice.line_ids.amount_original, 1000)
        self.assertEqual(notice._get_currency_totals()[0]["net"], 600)
        history = invoice.collection_history_ids
        self.assertEqual(
            history.filtered(
                lambda row: row.stage_id == self.stage_first
            ).amount_residual,
            600,
        )
        courtesy = history.filtered(lambda row: row.stage_id == self.stage_courtesy)
        self.assertEqual(courtesy.amount_residual, 1000)
        self.assertEqual(courtesy.notice_id.line_ids.amount_residual, 1000)
        self.assertEqual(len(self.notices_of()), 2)

    def test_partial_payment_message_and_letter_ask_residual(self):
        """C2: 500 overdue and 200 paid: the email and the letter ask for 300."""
        invoice = self.create_invoice(500, "2025-03-01")
        self.pay_invoice(invoice, 200, "2025-03-05")

        run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        body = notice.message_ids.filtered(
            lambda message: message.message_type == "comment"
        ).body
        self.assertIn("300.00", body)
        letter = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "fast_collections.action_report_collection_notice", notice.ids
            )[0]
            .decode()
        )
        self.assertIn("300.00", letter)
        self.assertEqual(notice._get_currency_totals()[0]["net"], 300)

    def test_instalments_chase_only_past_due(self):
        """C3: 1,200 in four instalments of 300; only the first is chased."""
        payment_term = self.create_instalment_term((0, 30, 60, 90))
        invoice = self.create_invoice(
            1200,
            "2025-01-01",
            invoice_date="2025-01-01",
            payment_term=payment_term,
        )
        lines = self.receivable_lines(invoice)
        self.assertEqual(lines.mapped("amount_residual"), [300, 300, 300, 300])

        run = self.run_collection("2025-01-20")

        first, *not_due = lines
        self.assertEqual(first.collection_stage_id, self.stage_first)
        for line in not_due:
            self.assertFalse(line.collection_stage_id)
            self.assertFalse(line.collection_history_ids)
        self.assertEqual(run.changed_count, 1)
        notice = run.notice_ids
        self.assertEqual(notice.line_ids.move_line_id, first)
        totals = notice._get_currency_totals()[0]
        self.assertEqual(totals["overdue"], 300)
        self.assertEqual(totals["net"], 300)

    def test_open_credit_note_nets_amount_asked(self):
        """C6: 1,000 overdue and an open credit note of 250 ask for 750; a
        cancelled credit note appears nowhere."""
        self.create_invoice(1000, "2025-03-01")
        open_refund = self.create_invoice(250, "2025-03-05", move_type="out_refund")
        cancelled_refund = self.create_invoice(
            90, "2025-03-05", move_type="out_refund", post=False
        )
        cancelled_refund.button_cancel()

        run = self.run_collection("2025-03-20")

        notice = run.notice_ids
        credit_line = notice.line_ids.filtered("is_credit")
        self.assertEqual(credit_line.move_id, open_refund)
        self.assertEqual(credit_line.amount_residual, -250)
        self.assertNotIn(cancelled_refund, notice.line_ids.move_id)
        totals = notice._get_currency_totals()[0]
        self.assertEqual(totals["overdue"], 1000)
        self.assertEqual(totals["credit"], 250)
        self.assertEqual(totals["net"], 750)
        body = notice.message_ids.filtered(
            lambda message: message.message_type == "comment"
        ).body
        self.assertIn("750.00", body)
        self.assertEqual(self.customer.collection_amount_overdue, 1000)
        self.assertEqual(self.customer.collection_amount_credit, 250)
        self.assertNotIn(cancelled_refund.name or "RINV/cancelled", body)

    def test_today_is_company_time_zone(self):
        """At 23:30 UTC on 7 March it is already 8 March in Madrid: +7 is reached."""
        self.company.partner_id.tz = "Europe/Madrid"
        invoice = self.create_invoice(100, "2025-03-01")
        with freeze_time("2025-03-07 23:30:00"):
            run = self.env["collection.run"]._run_collections(companies=self.company)
        self.assertEqual(run.run_date, date(2025, 3, 8))
        self.assertEqual(invoice.collection_stage_id, self.stage_first)

    def test_run_for_one_customer(self):
        """A run limited to one customer leaves the others untouched."""
        other = self.env["res.partner"].create(
            {"name": "Other Debtor", "email": "pay@other.example.com"}
        )
        mine = self.create_invoice(100, "2025-03-01")
        theirs = self.create_invoice(100, "2025-03-01", partner=other)

        run = self.run_collection("2025-03-20", partners=self.customer)

        self.assertEqual(mine.collection_stage_id, self.stage_first)
        self.assertFalse(theirs.collection_stage_id)
        self.assertEqual(run.partner_ids, self.customer)
