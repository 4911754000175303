from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.tools import SQL

from .collection_run import CHASED_MOVE_TYPES

# Number of customers listed by overdue amount.
TOP_CUSTOMER_COUNT = 10

# Days back to the date the overdue total is compared with, and the window in
# which broken promises and plans are listed.
COMPARISON_DAYS = 7


class CollectionDashboard(models.TransientModel):
    """Figures of the collections manager's morning review, as of one moment.

    Opening the dashboard creates a record whose figures are computed once
    for the user's current companies and stored on it, so that the totals and
    the lists shown always agree. Refreshing opens a new one.
    """

    _name = "collection.dashboard"
    _description = "Collections Dashboard"
    _order = "id desc"

    date = fields.Date(string="As Of", readonly=True)
    date_compared = fields.Date(
        string="Compared With",
        readonly=True,
        help="Date a week before, whose overdue total is rebuilt from the "
        "payments reconciled up to that date.",
    )
    company_ids = fields.Many2many(
        comodel_name="res.company", string="Companies", readonly=True
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        readonly=True,
        help="Currency of the current company. Amounts of the other companies "
        "are converted at today's rate.",
    )
    amount_overdue = fields.Monetary(
        string="Total Overdue",
        readonly=True,
        help="What is still owed on the customer invoice items due before today.",
    )
    amount_overdue_compared = fields.Monetary(
        string="Overdue a Week Ago",
        readonly=True,
        help="What was owed a week ago on the items then due: the items due "
        "before that date, less the payments reconciled with them up to it.",
    )
    amount_overdue_change = fields.Monetary(
        string="Change Since a Week Ago",
        readonly=True,
        help="Total overdue less the overdue a week ago. Negative when the "
        "overdue went down.",
    )
    overdue_item_count = fields.Integer(string="Overdue Items", readonly=True)
    overdue_customer_count = fields.Integer(string="Customers Overdue", readonly=True)
    customer_ids = fields.One2many(
        comodel_name="collection.dashboard.customer",
        inverse_name="dashboard_id",
        string="Customers With the Most Overdue",
        readonly=True,
    )
    broken_promise_ids = fields.Many2many(
        comodel_name="collection.promise",
        string="Promises Broken in the Last 7 Days",
        readonly=True,
    )
    broken_plan_ids = fields.Many2many(
        comodel_name="collection.plan",
        string="Payment Plans Broken in the Last 7 Days",
        readonly=True,
    )
    late_dispute_ids = fields.Many2many(
        comodel_name="collection.dispute",
        string="Disputes Past Their Deadline",
        readonly=True,
    )
    last_run_ids = fields.Many2many(
        comodel_name="collection.run",
        string="Last Collection Runs",
        readonly=True,
        help="Last collection run of each company of the dashboard.",
    )

    def _compute_display_name(self):
        # The breadcrumb shows the display name, which would otherwise be the
        # model and id of this transient record.
        for dashboard in self:
            dashboard.display_name = _("Collections Dashboard")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.update(self._prepare_figures())
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    @api.model
    def action_open(self):
        """Compute the figures of the current companies and open them."""
        dashboard = self.create({})
        return {
            "type": "ir.actions.act_window",
            "name": _("Collections Dashboard"),
            "res_model": self._name,
            "res_id": dashboard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "main",
        }

    def action_refresh(self):
        return self.action_open()

    def action_view_overdue_items(self):
        return self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_item_action"
        )

    def action_view_broken_promises(self):
        self.ensure_one()
        return self._action_view_records(
            "fast_collections.collection_promise_action", self.broken_promise_ids
        )

    def action_view_broken_plans(self):
        self.ensure_one()
        return self._action_view_records(
            "fast_collections.collection_plan_action", self.broken_plan_ids
        )

    def action_view_late_disputes(self):
        self.ensure_one()
        return self._action_view_records(
            "fast_collections.collection_dispute_action", self.late_dispute_ids
        )

    def _action_view_records(self, xml_id, records):
        action = self.env["ir.actions.actions"]._for_xml_id(xml_id)
        action["domain"] = [("id", "in", records.ids)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------

    @api.model
    def _prepare_figures(self):
        """Return the dashboard's field values for the current companies."""
        self.env["account.move.line"].check_access("read")
        companies = self.env.companies
        currency = self.env.company.currency_id
        # The company's day, as the collection run counts it.
        today = self.env["collection.run"]._get_company_today(self.env.company)
        date_compared = today - timedelta(days=COMPARISON_DAYS)

        self.env.flush_all()
        rates = self._get_company_rates_sql(companies, currency, today)
        overdue, item_count, customer_count = self._get_overdue_totals(rates, today)
        overdue_compared = self._get_overdue_as_of(rates, date_compared)
        customer_lines = [
            Command.create(
                {
                    "sequence": rank,
                    "partner_id": partner_id,
                    "amount_overdue": currency.round(amount),
                    "item_count": count,
                    "days_overdue": (today - oldest_due).days,
                }
            )
            for rank, (partner_id, amount, count, oldest_due) in enumerate(
                self._get_top_customers(rates, today), start=1
            )
        ]
        overdue = currency.round(overdue)
        overdue_compared = currency.round(overdue_compared)
        return {
            "date": today,
            "date_compared": date_compared,
            "company_ids": [Command.set(companies.ids)],
            "currency_id": currency.id,
            "amount_overdue": overdue,
            "amount_overdue_compared": overdue_compared,
            "amount_overdue_change": overdue - overdue_compared,
            "overdue_item_count": item_count,
            "overdue_customer_count": customer_count,
            "customer_ids": customer_lines,
            "broken_promise_ids": [
                Command.set(self._get_broken_cases("collection.promise", today).ids)
            ],
            "broken_plan_ids": [
                Command.set(self._get_broken_cases("collection.plan", today).ids)
            ],
            "late_dispute_ids": [Command.set(self._get_late_disputes(today).ids)],
            "last_run_ids": [Command.set(self._get_last_runs(companies).ids)],
        }

    @api.model
    def _get_company_rates_sql(self, companies, currency, date):
        """Return a VALUES list of (company id, rate from its currency to
        ``currency`` on ``date``), to join with the items."""
        rows = [
            SQL(
                "(%s, %s::numeric)",
                company.id,
                self.env["res.currency"]._get_conversion_rate(
                    company.currency_id, currency, self.env.company, date
                ),
            )
            for company in companies
        ]
        return SQL("VALUES %s", SQL(", ").join(rows))

    @api.model
    def _overdue_items_sql(self, rates, today):
        """Return the query of the open overdue items of the current companies:
        commercial partner, residual in the dashboard currency, due date.

        The conditions are those of the collectors' worklist.
        """
        return SQL(
            """
            SELECT partner.commercial_partner_id AS partner_id,
                   aml.amount_residual * rate.factor AS amount,
                   aml.date_maturity
              FROM account_move_line aml
              JOIN (%(rates)s) AS rate(company_id, factor)
                ON rate.company_id = aml.company_id
              JOIN account_move move ON move.id = aml.move_id
              JOIN account_account account ON account.id = aml.account_id
              JOIN res_partner partner ON partner.id = aml.partner_id
             WHERE aml.parent_state = 'posted'
               AND aml.display_type = 'payment_term'
               AND account.account_type = 'asset_receivable'
               AND move.move_type IN %(move_types)s
               AND aml.reconciled IS NOT TRUE
               AND aml.amount_residual > 0
               AND aml.date_maturity < %(today)s
            """,
            rates=rates,
            move_types=CHASED_MOVE_TYPES,
            today=today,
        )

    @api.model
    def _get_overdue_totals(self, rates, today):
        """Return the overdue total, its number of items and of customers."""
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(item.amount), 0),
                       COUNT(*),
                       COUNT(DISTINCT item.partner_id)
                  FROM (%s) AS item
                """,
                self._overdue_items_sql(rates, today),
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _get_top_customers(self, rates, today):
        """Return (commercial partner id, overdue, item count, oldest due date)
        of the customers with the most overdue, the largest first."""
        self.env.cr.execute(
            SQL(
                """
                SELECT item.partner_id,
                       SUM(item.amount),
                       COUNT(*),
                       MIN(item.date_maturity)
                  FROM (%s) AS item
              GROUP BY item.partner_id
              ORDER BY SUM(item.amount) DESC, item.partner_id
                 LIMIT %s
                """,
                self._overdue_items_sql(rates, today),
                TOP_CUSTOMER_COUNT,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _get_overdue_as_of(self, rates, date):
        """Return the overdue total as it stood at the end of ``date``.

        The items are those already booked and due before ``date``. Each one
        counts its amount less the partial reconciliations dated up to
        ``date`` (the later of the invoice's and the payment's dates), so a
        payment made since then does not lower the figure.
        """
        # NOTE: items settled long ago are read too, because only their
        # partial reconciliations tell when they were settled. The due-date
        # condition bounds the scan by the age of the ledger, not by the
        # number of open items.
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(
                           (aml.balance - COALESCE(paid.amount, 0)
                            + COALESCE(refunded.amount, 0)) * rate.factor
                       ), 0)
                  FROM account_move_line aml
                  JOIN (%(rates)s) AS rate(company_id, factor)
                    ON rate.company_id = aml.company_id
                  JOIN account_move move ON move.id = aml.move_id
                  JOIN account_account account ON account.id = aml.account_id
             LEFT JOIN LATERAL (
                           SELECT SUM(partial.amount) AS amount
                             FROM account_partial_reconcile partial
                            WHERE partial.debit_move_id = aml.id
                              AND partial.max_date <= %(date)s
                       ) AS paid ON TRUE
             LEFT JOIN LATERAL (
                           SELECT SUM(partial.amount) AS amount
                             FROM account_partial_reconcile partial
                            WHERE partial.credit_move_id = aml.id
                              AND partial.max_date <= %(date)s
                       ) AS refunded ON TRUE
                 WHERE aml.parent_state = 'posted'
                   AND aml.display_type = 'payment_term'
                   AND account.account_type = 'asset_receivable'
                   AND move.move_type IN %(move_types)s
                   AND aml.balance > 0
                   AND aml.date <= %(date)s
                   AND aml.date_maturity < %(date)s
                """,
                rates=rates,
                move_types=CHASED_MOVE_TYPES,
                date=date,
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _get_broken_cases(self, model_name, today):
        """Return the promises or plans (``model_name``) of the current
        companies broken after the comparison date, up to today."""
        return self.env[model_name].search(
            [
                ("company_id", "in", self.env.companies.ids),
                ("state", "=", "broken"),
                ("date_closed", ">", today - timedelta(days=COMPARISON_DAYS)),
                ("date_closed", "<=", today),
            ],
            order="date_closed desc, id desc",
        )

    @api.model
    def _get_late_disputes(self, today):
        return self.env["collection.dispute"].search(
            [
                ("company_id", "in", self.env.companies.ids),
                ("state", "=", "open"),
                ("date_deadline", "<", today),
            ],
            order="date_deadline, id",
        )

    @api.model
    def _get_last_runs(self, companies):
        runs = self.env["collection.run"]
        for company in companies:
            runs |= runs.search(
                [("company_id", "=", company.id)],
                order="run_date desc, id desc",
                limit=1,
            )
        return runs


class CollectionDashboardCustomer(models.TransientModel):
    """Customer of the dashboard's list of the largest overdue amounts."""

    _name = "collection.dashboard.customer"
    _description = "Collections Dashboard Customer"
    _order = "sequence, id"

    dashboard_id = fields.Many2one(
        comodel_name="collection.dashboard", required=True, ondelete="cascade"
    )
    sequence = fields.Integer(string="Rank", readonly=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner", string="Customer", readonly=True
    )
    currency_id = fields.Many2one(related="dashboard_id.currency_id")
    amount_overdue = fields.Monetary(string="Overdue", readonly=True)
    item_count = fields.Integer(string="Items", readonly=True)
    days_overdue = fields.Integer(
        string="Oldest Delay (Days)",
        readonly=True,
        help="Days since the due date of the customer's oldest overdue item.",
    )

    def action_view_items(self):
        """Open the customer's overdue items in the worklist."""
        self.ensure_one()
        return self.partner_id.action_view_collection_items()
