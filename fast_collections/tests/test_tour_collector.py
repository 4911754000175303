from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestTourCollector(CollectionCommon, HttpCase):
    """Browser walk of a collector from the worklist to a promise to pay.

    The server runs in the test's process, so dates are relative to today:
    Tour Debtor owes 1,000 due 20 days ago and promises 600 in 10 days.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="tour_collector",
            name="Tour Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.debtor = cls.env["res.partner"].create(
            {"name": "Tour Debtor", "is_company": True}
        )
        today = fields.Date.context_today(cls.env.user)
        cls.invoice = cls.create_invoice(
            1000, today - timedelta(days=20), partner=cls.debtor
        )

    def test_collector_records_promise(self):
        """The tour saves one open promise of 600 over the invoice's item,
        due 10 days from today, followed up by the collector."""
        self.start_tour(
            "/odoo", "fast_collections_collector_promise", login="tour_collector"
        )
        promise = self.env["collection.promise"].search(
            [("partner_id", "=", self.debtor.id)]
        )
        today = fields.Date.context_today(self.collector)
        self.assertEqual(len(promise), 1)
        self.assertEqual(promise.state, "open")
        self.assertEqual(promise.amount, 600.0)
        self.assertEqual(promise.date_promised, today + timedelta(days=10))
        self.assertEqual(promise.move_line_ids, self.receivable_lines(self.invoice))
        self.assertEqual(promise.user_id, self.collector)
        self.assertEqual(promise.create_uid, self.collector)
