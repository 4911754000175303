from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from ..hooks import post_init_hook
from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestCatchUp(CollectionCommon):
    """C16: stages at 10, 30 and 60 days and items found late."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        template = cls.env.ref("fast_collections.mail_template_collection_reminder")
        cls.short_policy = cls.env["collection.policy"].create(
            {
                "name": "Three steps",
                "stage_ids": [
                    Command.create(
                        {
                            "name": f"Day {days}",
                            "offset_days": days,
                            "send_email": True,
                            "mail_template_id": template.id,
                        }
                    )
                    for days in (10, 30, 60)
                ],
            }
        )
        cls.day_10, cls.day_30, cls.day_60 = cls.short_policy.stage_ids.sorted(
            "offset_days"
        )
        cls.customer.with_company(cls.company).collection_policy_id = cls.short_policy

    def test_jump_after_missed_runs(self):
        """Down for 40 days after day 10: the next run jumps to day 30 and sends
        one notice for it."""
        invoice = self.create_invoice(500, "2025-01-01")
        self.run_collection("2025-01-11")
        self.assertEqual(invoice.collection_stage_id, self.day_10)

        run = self.run_collection("2025-02-20")

        self.assertEqual(invoice.collection_stage_id, self.day_30)
        self.assertEqual(run.notice_ids.stage_id, self.day_30)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 2)

    def test_jump_when_found_90_days_late(self):
        """Found 90 days late: the item enters day 60 at once; days 10 and 30
        are recorded as skipped and send nothing."""
        invoice = self.create_invoice(500, "2025-01-01")

        run = self.run_collection("2025-04-01")

        self.assertEqual(invoice.collection_stage_id, self.day_60)
        history = invoice.collection_history_ids
        skipped = history.filtered(lambda row: row.state == "skipped")
        self.assertEqual(skipped.stage_id, self.day_10 | self.day_30)
        self.assertEqual(len(run.notice_ids), 1)
        self.assertEqual(run.notice_ids.stage_id, self.day_60)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)

    def test_climb_when_found_90_days_late(self):
        """Climb rule, 90 days late: one stage per run, each with its notice."""
        self.short_policy.catchup_rule = "climb"
        invoice = self.create_invoice(500, "2025-01-01")

        reached = []
        for run_date in ("2025-04-01", "2025-04-02", "2025-04-03", "2025-04-04"):
            self.run_collection(run_date)
            reached.append(invoice.collection_stage_id)

        self.assertEqual(reached, [self.day_10, self.day_30, self.day_60, self.day_60])
        self.assertEqual(invoice.collection_history_ids.mapped("state"), ["done"] * 3)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 3)

    def test_climb_waits_for_interval(self):
        """Climb rule with 7 days between notices: each stage still gets its
        own notice, one interval after the other."""
        self.short_policy.write({"catchup_rule": "climb", "notice_interval_days": 7})
        invoice = self.create_invoice(500, "2025-01-01")

        for run_date in ("2025-04-01", "2025-04-02", "2025-04-03", "2025-04-08"):
            self.run_collection(run_date)

        self.assertEqual(invoice.collection_stage_id, self.day_30)
        notices = self.notices_of()
        self.assertEqual(notices.stage_id, self.day_10 | self.day_30)
        self.assertEqual(len(notices), 2)

    def test_climb_after_missed_runs(self):
        """Climb rule, down 40 days after day 10: day 30, then day 60 later on."""
        self.short_policy.catchup_rule = "climb"
        invoice = self.create_invoice(500, "2025-01-01")
        self.run_collection("2025-01-11")

        self.run_collection("2025-02-20")
        self.assertEqual(invoice.collection_stage_id, self.day_30)
        self.run_collection("2025-02-21")
        self.assertEqual(invoice.collection_stage_id, self.day_30)
        self.run_collection("2025-03-02")
        self.assertEqual(invoice.collection_stage_id, self.day_60)


@tagged("post_install", "-at_install")
class TestInstallWithOverdueInvoices(CollectionCommon):
    def test_install_brings_overdue_items_into_flow(self):
        """Installing on a database with an invoice 90 days late puts it at
        the stage its delay calls for, sends nothing, and the first run sends
        one notice for that stage only."""
        invoice = self.create_invoice(1000, "2025-01-01")
        self.env["collection.history"].search([]).unlink()
        self.company.collection_policy_id = False

        with self.subTest("installation"):
            with freeze_time("2025-04-01"):
                post_init_hook(self.env)
            self.assertEqual(self.company.collection_policy_id, self.policy)
            self.assertEqual(invoice.collection_stage_id, self.stage_legal)
            entered = invoice.collection_history_ids.filtered(
                lambda row: row.stage_id == self.stage_legal
            )
            self.assertEqual(entered.state, "pending")
            self.assertFalse(self.notices_of())
            self.assertFalse(self.outgoing_mails_to(self.customer))

        run = self.run_collection("2025-04-02")

        self.assertEqual(run.notice_ids.stage_id, self.stage_legal)
        self.assertEqual(len(self.outgoing_mails_to(self.customer)), 1)
        self.assertEqual(entered.state, "done")
