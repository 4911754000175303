from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestDashboard(CollectionCommon):
    """Dashboard of 20 March 2025, compared with 13 March 2025.

    Company A, all invoices dated on their due date:

    - customers C1 to C11 owe 100 x n each, due 1 March: 6,600 overdue on both
      dates;
    - Acme owes 2,000 due 1 March, of which 1,500 paid on 16 March (between
      the two dates): 500 overdue today, 2,000 a week ago;
    - Acme owes 700 due 15 March: overdue today, not yet due a week ago;
    - Acme owes 900 due 25 March: not overdue;
    - Acme owed 300 due 1 March, paid in full on 10 March: 0 on both dates.

    Total overdue today 6,600 + 500 + 700 = 7,800 on 13 items of 12 customers;
    a week ago 6,600 + 2,000 = 8,600; change -800.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbered_customers = cls.env["res.partner"].create(
            [{"name": f"C{number}", "is_company": True} for number in range(1, 12)]
        )
        cls.numbered_invoices = cls.env["account.move"]
        for number, customer in enumerate(cls.numbered_customers, start=1):
            cls.numbered_invoices |= cls.create_invoice(
                100 * number, "2025-03-01", partner=customer
            )
        cls.partly_paid = cls.create_invoice(2000, "2025-03-01")
        cls.pay_invoice(cls.partly_paid, 1500, "2025-03-16")
        cls.create_invoice(700, "2025-03-15")
        cls.create_invoice(900, "2025-03-25")
        paid_early = cls.create_invoice(300, "2025-03-01")
        cls.pay_invoice(paid_early, 300, "2025-03-10")

    def open_dashboard(self, user=None, companies=None):
        """Create the dashboard as ``user`` for ``companies`` on 20 March 2025."""
        env = self.env(user=user or self.env.user)
        env = env(
            context=dict(
                env.context, allowed_company_ids=(companies or self.company).ids
            )
        )
        with freeze_time("2025-03-20"):
            return env["collection.dashboard"].create({})

    def item_of(self, customer):
        invoice = self.numbered_invoices.filtered(
            lambda move: move.partner_id == customer
        )
        return self.receivable_lines(invoice)

    def break_promise(self, customer, broken_on):
        """Record on 1 March a promise of 50 from ``customer`` for 5 March and
        mark it broken on ``broken_on``."""
        with freeze_time("2025-03-01"):
            promise = self.env["collection.promise"].create(
                {
                    "move_line_ids": [Command.set(self.item_of(customer).ids)],
                    "date_promised": "2025-03-05",
                    "amount": 50,
                }
            )
        promise._mark_broken(broken_on, 0.0)
        return promise

    def break_plan(self, customer, broken_on):
        """Create a plan of three monthly instalments over the item of
        ``customer`` and mark it broken on ``broken_on``."""
        plan = self.env["collection.plan"].create(
            {
                "move_line_ids": [Command.set(self.item_of(customer).ids)],
                "instalment_count": 3,
                "frequency": "monthly",
                "date_first": "2025-04-01",
            }
        )
        plan._break(broken_on)
        return plan

    def open_dispute(self, customer, opened_on):
        """Open a dispute of ``customer``'s whole item on ``opened_on`` for a
        duplicate invoice, whose deadline is 14 days after opening."""
        item = self.item_of(customer)
        with freeze_time(opened_on):
            return self.env["collection.dispute"].create(
                {
                    "reason_id": self.env.ref(
                        "fast_collections.dispute_reason_duplicate"
                    ).id,
                    "line_ids": [
                        Command.create(
                            {
                                "move_line_id": item.id,
                                "amount_disputed": item.amount_residual,
                            }
                        )
                    ],
                }
            )

    def create_run(self, run_date, company=None, **counts):
        return (
            self.env["collection.run"]
            .sudo()
            .create(
                {
                    "company_id": (company or self.company).id,
                    "run_date": run_date,
                    "date_start": f"{run_date} 06:00:00",
                    "date_end": f"{run_date} 06:05:00",
                    "state": "done",
                    **counts,
                }
            )
        )

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------

    def test_overdue_total_today(self):
        """7,800 overdue on 13 items of 12 customers (see the class)."""
        dashboard = self.open_dashboard()
        self.assertEqual(dashboard.currency_id, self.company.currency_id)
        self.assertAlmostEqual(dashboard.amount_overdue, 7800.0)
        self.assertEqual(dashboard.overdue_item_count, 13)
        self.assertEqual(dashboard.overdue_customer_count, 12)

    def test_display_name(self):
        """The breadcrumb names the dashboard, not its model and record id."""
        dashboard = self.open_dashboard()
        self.assertEqual(dashboard.display_name, "Collections Dashboard")

    def test_change_since_week_ago(self):
        """A week ago 8,600 were overdue: Acme's 2,000 was not paid yet, and
        its 700 was not due yet. The change is 7,800 - 8,600 = -800."""
        dashboard = self.open_dashboard()
        self.assertEqual(str(dashboard.date_compared), "2025-03-13")
        self.assertAlmostEqual(dashboard.amount_overdue_compared, 8600.0)
        self.assertAlmostEqual(dashboard.amount_overdue_change, -800.0)

    def test_week_ago_ignores_later_invoices(self):
        """An invoice booked on 18 March with a due date of 1 March was not
        owed a week ago: it adds its 1,000 to today's total only, so the
        change becomes 8,800 - 8,600 = +200."""
        self.create_invoice(1000, "2025-03-01", invoice_date="2025-03-18")
        dashboard = self.open_dashboard()
        self.assertAlmostEqual(dashboard.amount_overdue, 8800.0)
        self.assertAlmostEqual(dashboard.amount_overdue_compared, 8600.0)
        self.assertAlmostEqual(dashboard.amount_overdue_change, 200.0)

    def test_top_ten_order(self):
        """Acme's 1,200 comes first, then C11 to C3 (1,100 down to 300). C2
        and C1, the smallest, are left out."""
        dashboard = self.open_dashboard()
        expected_names = ["Acme Debtor"] + [f"C{n}" for n in range(11, 2, -1)]
        self.assertEqual(
            dashboard.customer_ids.partner_id.mapped("name"), expected_names
        )
        self.assertEqual(
            dashboard.customer_ids.mapped("amount_overdue"),
            [1200.0] + [100.0 * n for n in range(11, 2, -1)],
        )
        self.assertEqual(dashboard.customer_ids.mapped("sequence"), list(range(1, 11)))

    def test_top_customer_figures(self):
        """Acme has 2 overdue items, the oldest due 1 March: 19 days late."""
        acme_line = self.open_dashboard().customer_ids[0]
        self.assertEqual(acme_line.partner_id, self.customer)
        self.assertEqual(acme_line.item_count, 2)
        self.assertEqual(acme_line.days_overdue, 19)

    def test_top_customer_opens_items(self):
        """The button of a customer opens the worklist filtered on it."""
        acme_line = self.open_dashboard().customer_ids[0]
        action = acme_line.action_view_items()
        self.assertEqual(action["res_model"], "account.move.line")
        self.assertEqual(
            action["context"]["search_default_partner_id"], self.customer.id
        )
        self.assertEqual(action["context"]["search_default_overdue"], 1)

    def test_broken_promises_of_last_week(self):
        """A promise broken on 17 March (3 days ago) is listed; one broken on
        10 March (10 days ago) is not."""
        recent = self.break_promise(self.numbered_customers[0], "2025-03-17")
        self.break_promise(self.numbered_customers[1], "2025-03-10")
        dashboard = self.open_dashboard()
        self.assertEqual(dashboard.broken_promise_ids, recent)
        self.assertEqual(str(recent.date_closed), "2025-03-17")

    def test_broken_plans_of_last_week(self):
        """A plan broken on 14 March is listed; one broken on 13 March, the
        comparison date itself, is not."""
        recent = self.break_plan(self.numbered_customers[2], "2025-03-14")
        self.break_plan(self.numbered_customers[3], "2025-03-13")
        dashboard = self.open_dashboard()
        self.assertEqual(dashboard.broken_plan_ids, recent)
        action = dashboard.action_view_broken_plans()
        self.assertEqual(action["domain"], [("id", "in", recent.ids)])

    def test_disputes_past_deadline(self):
        """A dispute opened on 1 March had its deadline on 15 March and is
        listed. One opened on 10 March is due on 24 March and is not."""
        late = self.open_dispute(self.numbered_customers[4], "2025-03-01")
        self.open_dispute(self.numbered_customers[5], "2025-03-10")
        dashboard = self.open_dashboard()
        self.assertEqual(str(late.date_deadline), "2025-03-15")
        self.assertEqual(dashboard.late_dispute_ids, late)

    def test_disputed_items_stay_in_total(self):
        """Disputed items are still owed, so the 500 of C5 stays in the
        7,800."""
        self.open_dispute(self.numbered_customers[4], "2025-03-01")
        self.assertAlmostEqual(self.open_dashboard().amount_overdue, 7800.0)

    def test_last_run(self):
        """The run of 19 March is shown, not the one of 18 March."""
        self.create_run("2025-03-18", item_count=14, changed_count=13)
        last = self.create_run(
            "2025-03-19", item_count=15, changed_count=2, notice_count=1
        )
        dashboard = self.open_dashboard()
        self.assertEqual(dashboard.last_run_ids, last)
        self.assertEqual(dashboard.last_run_ids.state, "done")
        self.assertEqual(dashboard.last_run_ids.item_count, 15)
        self.assertEqual(dashboard.last_run_ids.changed_count, 2)

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------

    def setup_company_b(self):
        """Company B: Acme owes 5,000 due 1 March, C1 broke a promise on
        18 March, and B ran on 20 March."""
        company_b = self.setup_other_company(name="Company B")["company"]
        self.env.user.company_ids |= company_b
        self.create_invoice(5000, "2025-03-01", company=company_b)
        c1_invoice_b = self.create_invoice(
            400, "2025-03-01", partner=self.numbered_customers[0], company=company_b
        )
        with freeze_time("2025-03-01"):
            promise_b = (
                self.env["collection.promise"]
                .with_company(company_b)
                .create(
                    {
                        "move_line_ids": [
                            Command.set(self.receivable_lines(c1_invoice_b).ids)
                        ],
                        "company_id": company_b.id,
                        "date_promised": "2025-03-05",
                        "amount": 50,
                    }
                )
            )
        promise_b._mark_broken("2025-03-18", 0.0)
        run_b = self.create_run("2025-03-20", company=company_b, item_count=2)
        return company_b, promise_b, run_b

    def test_collector_of_a_sees_nothing_of_b(self):
        """A collector of company A only gets A's 7,800, A's run and no
        promise of B, although B's figures are larger and more recent."""
        _company_b, promise_b, run_b = self.setup_company_b()
        run_a = self.create_run("2025-03-19", item_count=15)
        collector = new_test_user(
            self.env,
            login="dashboard_collector_a",
            groups="fast_collections.group_collection_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        dashboard = self.open_dashboard(user=collector)
        self.assertEqual(dashboard.company_ids, self.company)
        self.assertAlmostEqual(dashboard.amount_overdue, 7800.0)
        self.assertAlmostEqual(dashboard.amount_overdue_compared, 8600.0)
        self.assertAlmostEqual(dashboard.customer_ids[0].amount_overdue, 1200.0)
        self.assertNotIn(promise_b, dashboard.sudo().broken_promise_ids)
        self.assertEqual(dashboard.last_run_ids, run_a)
        self.assertNotIn(run_b, dashboard.sudo().last_run_ids)

    def test_user_of_both_companies_sees_both(self):
        """With A and B selected, the 5,000 and 400 of B are added: 13,200
        overdue, a week ago 8,600 + 5,400 = 14,000. Acme leads with
        1,200 + 5,000 = 6,200, and C1 now owes 100 + 400 = 500."""
        company_b, promise_b, run_b = self.setup_company_b()
        dashboard = self.open_dashboard(companies=self.company | company_b)
        self.assertAlmostEqual(dashboard.amount_overdue, 13200.0)
        self.assertAlmostEqual(dashboard.amount_overdue_compared, 14000.0)
        self.assertEqual(dashboard.customer_ids[0].partner_id, self.customer)
        self.assertAlmostEqual(dashboard.customer_ids[0].amount_overdue, 6200.0)
        c1_line = dashboard.customer_ids.filtered(
            lambda line: line.partner_id == self.numbered_customers[0]
        )
        self.assertAlmostEqual(c1_line.amount_overdue, 500.0)
        self.assertEqual(dashboard.broken_promise_ids, promise_b)
        self.assertEqual(dashboard.last_run_ids, run_b)

    def test_collector_opens_dashboard(self):
        """The menu's server action creates a dashboard for a collector and
        opens its form; the form view loads for them."""
        collector = new_test_user(
            self.env,
            login="dashboard_collector",
            groups="fast_collections.group_collection_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        server_action = self.env.ref("fast_collections.collection_dashboard_action")
        with freeze_time("2025-03-20"):
            action = server_action.with_user(collector).run()
        self.assertEqual(action["res_model"], "collection.dashboard")
        dashboard = self.env["collection.dashboard"].browse(action["res_id"])
        self.assertEqual(dashboard.create_uid, collector)
        self.assertAlmostEqual(dashboard.amount_overdue, 7800.0)
        views = (
            self.env["collection.dashboard"]
            .with_user(collector)
            .get_views([(False, "form")])
        )
        self.assertIn("customer_ids", views["views"]["form"]["arch"])

    def test_dashboard_of_another_user_hidden(self):
        """A collector cannot read the dashboard another user opened, nor its
        rows of customers."""
        collector = new_test_user(
            self.env,
            login="other_dashboard_collector",
            groups="fast_collections.group_collection_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        dashboard = self.open_dashboard()
        self.assertTrue(dashboard.customer_ids)
        dashboards = self.env["collection.dashboard"].with_user(collector)
        self.assertFalse(dashboards.search([("id", "=", dashboard.id)]))
        rows = self.env["collection.dashboard.customer"].with_user(collector)
        self.assertFalse(rows.search([("id", "in", dashboard.customer_ids.ids)]))
