from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

from ..rules.dso import (
    collection_effectiveness_index,
    countback_dso,
    period_boundaries,
    trend_dates,
)
from .collection_aging_report import AGED_MOVE_TYPES


class CollectionKpiReport(models.TransientModel):
    """Days sales outstanding and collection effectiveness index of a company
    and of each of its customers, at each month end of a trend.

    Filled on demand by the analysis wizard, because the figures depend on the
    date and the period the user chooses, and kept as transient rows of that
    user. The receivables are the aging report's: the open receivable items of
    posted customer invoices and credit notes, valued at each date by undoing
    the reconciliations dated after it. Credit sales are the same items by
    their accounting date, invoices less credit notes.
    """

    _name = "collection.kpi.report"
    _description = "Collection DSO and CEI"
    _order = "date, scope, partner_id"
    _rec_name = "date"

    wizard_id = fields.Many2one(
        comodel_name="collection.analysis.wizard",
        string="Computation",
        required=True,
        readonly=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, readonly=True
    )
    currency_id = fields.Many2one(
        related="company_id.currency_id", string="Company Currency"
    )
    scope = fields.Selection(
        selection=[("company", "Company"), ("customer", "Customer")],
        required=True,
        readonly=True,
        help="Company: the figures of all customers together. Customer: those "
        "of one customer.",
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner", string="Customer", readonly=True
    )
    date = fields.Date(
        string="Month End", required=True, readonly=True, help="End of the period."
    )
    period_start = fields.Date(
        readonly=True, help="First day of the period the figures cover."
    )
    beginning_balance = fields.Monetary(
        string="Beginning Receivables",
        currency_field="currency_id",
        readonly=True,
        help="Receivables on the day before the period starts.",
    )
    credit_sales = fields.Monetary(
        currency_field="currency_id",
        readonly=True,
        help="Customer invoices less credit notes of the period.",
    )
    receivable_balance = fields.Monetary(
        string="Ending Receivables",
        currency_field="currency_id",
        readonly=True,
        help="Receivables at the end of the period.",
    )
    current_balance = fields.Monetary(
        string="Ending Current Receivables",
        currency_field="currency_id",
        readonly=True,
        help="Part of the ending receivables not yet due, open credit notes included.",
    )
    dso = fields.Float(
        string="DSO (Days)",
        digits=(16, 1),
        readonly=True,
        aggregator="avg",
        help="Days sales outstanding by the countback method: the days of "
        "credit sales, counted back from the end of the period, that the "
        "ending receivables represent. At most the period's days.",
    )
    cei = fields.Float(
        string="CEI (%)",
        digits=(16, 1),
        readonly=True,
        aggregator="avg",
        help="Collection effectiveness index: the share of what could be "
        "collected in the period that was collected. Empty when there was "
        "nothing to collect.",
    )

    @api.model
    def _fill(self, wizard):
        """Compute the figures of ``wizard``'s company and customers at each
        month end of its trend, and store them as rows of ``wizard``."""
        points = trend_dates(wizard.date_to, wizard.trend_months)
        periods = {
            point: period_boundaries(point, wizard.period_months) for point in points
        }
        boundaries = sorted({day for bounds in periods.values() for day in bounds})
        totals_by_partner = self._fetch_cumulative_totals(wizard.company_id, boundaries)
        company_totals = [
            tuple(
                sum(totals[index][column] for totals in totals_by_partner.values())
                for column in range(3)
            )
            for index in range(len(boundaries))
        ]
        index_by_boundary = {day: index for index, day in enumerate(boundaries)}
        currency = wizard.company_id.currency_id
        common_values = {"wizard_id": wizard.id, "company_id": wizard.company_id.id}

        rows = []
        for point in points:
            bounds = periods[point]
            indexes = [index_by_boundary[day] for day in bounds]
            figures = self._compute_figures(bounds, indexes, company_totals, currency)
            rows.append(
                dict(common_values, **figures, scope="company", partner_id=None)
            )
            for partner_id, partner_totals in totals_by_partner.items():
                # Items without a partner count for the company only.
                if not partner_id:
                    continue
                figures = self._compute_figures(
                    bounds, indexes, partner_totals, currency
                )
                amounts = (
                    figures["beginning_balance"],
                    figures["credit_sales"],
                    figures["receivable_balance"],
                )
                if all(currency.is_zero(amount) for amount in amounts):
                    continue
                rows.append(
                    dict(
                        common_values,
                        **figures,
                        scope="customer",
                        partner_id=partner_id,
                    )
                )
        self._insert_rows(rows)

    @api.model
    def _compute_figures(self, bounds, indexes, totals, currency):
        """Return the figures of the period cut by ``bounds``, from ``totals``,
        the cumulative (balance, sales, overdue) at each boundary, where
        ``indexes`` locates ``bounds``."""
        balance, _sales, overdue = totals[indexes[-1]]
        beginning = totals[indexes[0]][0]
        # Most recent month first, as the countback walks.
        months = [
            (
                (bounds[month] - bounds[month - 1]).days,
                totals[indexes[month]][1] - totals[indexes[month - 1]][1],
            )
            for month in range(len(bounds) - 1, 0, -1)
        ]
        sales = sum(month_sales for _days, month_sales in months)
        current = balance - overdue
        return {
            "date": bounds[-1],
            "period_start": fields.Date.add(bounds[0], days=1),
            "beginning_balance": currency.round(beginning),
            "credit_sales": currency.round(sales),
            "receivable_balance": currency.round(balance),
            "current_balance": currency.round(current),
            "dso": countback_dso(balance, months),
            "cei": collection_effectiveness_index(beginning, sales, balance, current),
        }

    @api.model
    def _fetch_cumulative_totals(self, company, boundaries):
        """Return {commercial partner id: [(balance, sales, overdue)]}, the
        totals of ``company`` at each date of ``boundaries`` (sorted).

        ``balance`` is the receivables on the date, ``sales`` the credit sales
        up to it (only differences between two dates mean something), and
        ``overdue`` the part of ``balance`` past its due date. One query adds
        up each change at the first boundary on or after its date. An item
        adds its amount on its accounting date, and becomes overdue the day
        after its due date. A reconciliation takes the amount it settles off
        the balance on its date, and off the overdue amount once the item is
        overdue.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH item AS (
                    SELECT aml.id,
                           aml.date,
                           aml.balance,
                           aml.balance < 0 AS is_credit,
                           COALESCE(aml.date_maturity, aml.date) + 1 AS overdue_from,
                           partner.commercial_partner_id AS partner_id
                      FROM account_move_line aml
                      JOIN account_move move ON move.id = aml.move_id
                      JOIN account_account account ON account.id = aml.account_id
                 LEFT JOIN res_partner partner ON partner.id = aml.partner_id
                     WHERE aml.company_id = %(company_id)s
                       AND aml.parent_state = 'posted'
                       AND account.account_type = 'asset_receivable'
                       AND move.move_type IN %(move_types)s
                       AND aml.date <= %(date_to)s
                ),
                settled AS (
                    SELECT item.partner_id, item.is_credit, item.overdue_from,
                           partial.max_date AS date, -partial.amount AS amount
                      FROM account_partial_reconcile partial
                      JOIN item ON item.id = partial.debit_move_id
                     WHERE partial.max_date <= %(date_to)s
                 UNION ALL
                    SELECT item.partner_id, item.is_credit, item.overdue_from,
                           partial.max_date, partial.amount
                      FROM account_partial_reconcile partial
                      JOIN item ON item.id = partial.credit_move_id
                     WHERE partial.max_date <= %(date_to)s
                ),
                change AS (
                    SELECT partner_id, date, balance AS amount, balance AS sales,
                           0 AS overdue
                      FROM item
                 UNION ALL
                    SELECT partner_id, GREATEST(date, overdue_from), 0, 0, balance
                      FROM item
                     WHERE NOT is_credit
                 UNION ALL
                    SELECT partner_id, date, amount, 0, 0
                      FROM settled
                 UNION ALL
                    SELECT partner_id, GREATEST(date, overdue_from), 0, 0, amount
                      FROM settled
                     WHERE NOT is_credit
                )
                SELECT partner_id,
                       width_bucket(date - 1, %(boundaries)s::date[]) AS boundary,
                       SUM(amount), SUM(sales), SUM(overdue)
                  FROM change
                 WHERE date <= %(date_to)s
              GROUP BY partner_id, boundary
                """,
                company_id=company.id,
                move_types=AGED_MOVE_TYPES,
                date_to=boundaries[-1],
                boundaries=boundaries,
            )
        )
        changes = defaultdict(lambda: [[0.0, 0.0, 0.0] for _day in boundaries])
        for partner_id, boundary, amount, sales, overdue in self.env.cr.fetchall():
            partner_changes = changes[partner_id][boundary]
            partner_changes[0] += amount
            partner_changes[1] += sales
            partner_changes[2] += overdue

        totals_by_partner = {}
        for partner_id, partner_changes in changes.items():
            running = [0.0, 0.0, 0.0]
            totals = []
            for boundary_changes in partner_changes:
                running = [
                    total + change
                    for total, change in zip(running, boundary_changes, strict=True)
                ]
                totals.append(tuple(running))
            totals_by_partner[partner_id] = totals
        return totals_by_partner

    @api.model
    def _insert_rows(self, rows):
        """Insert ``rows`` in one statement.

        Plain SQL keeps an undefined CEI empty (NULL), where the ORM would
        store a float field's None as 0.
        """
        if not rows:
            return
        columns = {
            "wizard_id": "integer",
            "company_id": "integer",
            "scope": "varchar",
            "partner_id": "integer",
            "date": "date",
            "period_start": "date",
            "beginning_balance": "numeric",
            "credit_sales": "numeric",
            "receivable_balance": "numeric",
            "current_balance": "numeric",
            "dso": "numeric",
            "cei": "numeric",
        }
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO %(table)s (%(columns)s, create_uid, create_date,
                                       write_uid, write_date)
                SELECT *, %(uid)s, now() AT TIME ZONE 'UTC',
                       %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM unnest(%(arrays)s)
                """,
                table=SQL.identifier(self._table),
                columns=SQL(", ").join(SQL.identifier(name) for name in columns),
                uid=self.env.uid,
                arrays=SQL(", ").join(
                    SQL("%s::%s[]", [row[name] for row in rows], SQL(column_type))
                    for name, column_type in columns.items()
                ),
            )
        )
