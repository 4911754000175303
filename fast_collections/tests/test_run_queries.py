from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import CollectionCommon

RUN_DATE = date(2025, 6, 30)
# Days from the due date on the run date, one per shipped stage: courtesy
# reminder (-3), first reminder (+7, which charges a fee here), second
# reminder (+21), formal notice (+45) and hand-over to legal (+75).
DAYS_OVERDUE_CYCLE = (-2, 10, 30, 50, 80)
# Queries the run at 500 items may issue beyond the run at 50 items. Both
# sizes fit in one decide batch and one act batch of the run, which gives
# ALLOWED_GROWTH_PER_RUN of slack, for example a prefetch split in two reads.
# Odoo's ORM writes at most 100 rows per INSERT or UPDATE statement
# (INSERT_BATCH_SIZE in odoo/models.py), and the run writes a few models in
# bulk: stage history, notice lines, history states. Hence the allowance per
# 100 more items. A query per item would add 100 per 100 items.
ALLOWED_GROWTH_PER_RUN = 10
ALLOWED_GROWTH_PER_100_ITEMS = 10


@tagged("post_install", "-at_install")
class TestRunQueries(CollectionCommon):
    """SQL queries of a collection run at 50 and at 500 overdue items.

    The items are spread over the five shipped stages, the first reminder
    charges a fee of 10, and a default collector receives the activities. So
    every phase of the run has work: stages, notices with emails, letters and
    activities, fees and legal cases.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "collection_penalty_product_id": cls.product_a.id,
                "collection_penalty_account_id": (
                    cls.company_data["default_account_revenue"].id
                ),
                "collection_user_id": new_test_user(
                    cls.env,
                    login="quinn.collector",
                    name="Quinn Collector",
                    groups="base.group_user,fast_collections.group_collection_user",
                    company_id=cls.company.id,
                    company_ids=[Command.set(cls.company.ids)],
                ).id,
            }
        )
        cls.stage_first.write({"fee_type": "fixed", "fee_amount": 10})

    def create_overdue_items(
        self, label, customer_count, items_per_customer, days_cycle=DAYS_OVERDUE_CYCLE
    ):
        """Create customers named after ``label``, each with
        ``items_per_customer`` posted invoices of 100 to 599 due the days of
        ``days_cycle`` in turn before the run date, and return the
        customers."""
        customers = self.env["res.partner"].create(
            [
                {
                    "name": f"{label} Customer {number}",
                    "is_company": True,
                    "email": f"{label.lower()}.{number}@customer.example.com",
                }
                for number in range(customer_count)
            ]
        )
        values_list = []
        for item_number in range(customer_count * items_per_customer):
            customer = customers[item_number % customer_count]
            days = days_cycle[item_number % len(days_cycle)]
            due_date = RUN_DATE - timedelta(days=days)
            values_list.append(
                {
                    "move_type": "out_invoice",
                    "partner_id": customer.id,
                    "company_id": self.company.id,
                    "invoice_date": due_date - timedelta(days=30),
                    "invoice_date_due": due_date,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Services",
                                "price_unit": 100 + item_number % 500,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
            )
        invoices = self.env["account.move"].create(values_list)
        invoices.action_post()
        return customers

    def count_run_queries(self, customers):
        """Run the collection for ``customers`` with cold caches and return
        the run and the number of SQL queries it issued."""
        self.env.flush_all()
        self.env.invalidate_all()
        with freeze_time(RUN_DATE):
            queries_before = self.cr.sql_log_count
            run = self.run_collection(RUN_DATE, partners=customers)
            query_count = self.cr.sql_log_count - queries_before
        return run, query_count

    def assert_run_queries_flat(self, small_customers, large_customers):
        # A first run warms the registry-wide caches (templates, access rules,
        # views), so that neither measured run pays for them alone.
        self.count_run_queries(self.create_overdue_items("Warm", 1, 5))
        small_run, small_count = self.count_run_queries(small_customers)
        large_run, large_count = self.count_run_queries(large_customers)

        self.assertEqual(small_run.item_count, 50)
        self.assertEqual(large_run.item_count, 500)
        self.assertEqual(large_run.changed_count, 500)
        self.assertEqual(large_run.notice_count, len(large_customers))
        self.assertTrue(large_run.activity_count)
        self.assertTrue(large_run.penalty_move_count)
        allowed = ALLOWED_GROWTH_PER_RUN + ALLOWED_GROWTH_PER_100_ITEMS * 450 // 100
        self.assertLessEqual(
            large_count,
            small_count + allowed,
            f"The run issued {small_count} queries for 50 items and "
            f"{large_count} for 500 items.",
        )

    def test_queries_flat_in_items(self):
        """Ten customers with 5 items each, then ten with 50 each: the run
        issues the same queries, give or take one batch's slack."""
        small = self.create_overdue_items("Few", 10, 5)
        large = self.create_overdue_items("Many", 10, 50)
        self.assert_run_queries_flat(small, large)

    def test_notice_queries_flat_in_customers(self):
        """Ten customers, then a hundred, with 5 items each: the notices,
        emails, activities and stage changes cost the same queries.

        Each customer's items share one delay, so a fifth of the customers
        reach each of the first four stages. No stage charges a fee and no
        item reaches legal, because each interest and fee invoice and each
        legal case goes through Odoo's accounting and chatter, which cost
        queries per record.
        """
        self.stage_first.write({"fee_type": False, "fee_amount": 0})
        days_cycle = (-2, 10, 30, 50, 50)
        self.count_run_queries(self.create_overdue_items("Warm", 1, 5, days_cycle))
        small = self.create_overdue_items("Few", 10, 5, days_cycle)
        large = self.create_overdue_items("Many", 100, 5, days_cycle)
        small_run, small_count = self.count_run_queries(small)
        large_run, large_count = self.count_run_queries(large)

        self.assertEqual(small_run.notice_count, 10)
        self.assertEqual(large_run.notice_count, 100)
        self.assertEqual(large_run.message_count, 100)
        self.assertEqual(large_run.letter_count, 40)
        self.assertEqual(large_run.activity_count, 60)
        self.assertEqual(large_run.legal_case_count, 0)
        allowed = ALLOWED_GROWTH_PER_RUN + ALLOWED_GROWTH_PER_100_ITEMS * 450 // 100
        self.assertLessEqual(
            large_count,
            small_count + allowed,
            f"The run issued {small_count} queries for 10 customers and "
            f"{large_count} for 100 customers.",
        )
