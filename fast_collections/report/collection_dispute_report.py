from odoo import fields, models
from odoo.tools import SQL, drop_view_if_exists

from ..models.collection_settlement import SETTLEMENT_OUTCOMES


class CollectionDisputeReport(models.Model):
    """Dispute with the days it took to resolve, for the analysis by reason.

    A SQL view rather than a stored field on the dispute, so that the days to
    resolve stay empty (NULL) while a dispute is open or after it was
    cancelled: averages then count only the disputes closed with an outcome,
    where a stored integer would count the others as zero days.
    """

    _name = "collection.dispute.report"
    _description = "Collection Dispute Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "dispute_id"
    _depends = {
        "collection.dispute": [
            "company_id",
            "currency_id",
            "date",
            "date_closed",
            "outcome",
            "partner_id",
            "reason_id",
            "state",
            "user_id",
        ],
        "collection.dispute.line": ["amount_disputed", "dispute_id", "move_line_id"],
        "account.move.line": ["amount_currency", "balance"],
    }

    dispute_id = fields.Many2one(comodel_name="collection.dispute", readonly=True)
    reason_id = fields.Many2one(comodel_name="collection.dispute.reason", readonly=True)
    state = fields.Selection(
        selection=[
            ("open", "Open"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        string="Status",
        readonly=True,
    )
    outcome = fields.Selection(selection=SETTLEMENT_OUTCOMES, readonly=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner", string="Customer", readonly=True
    )
    user_id = fields.Many2one(
        comodel_name="res.users", string="Collector", readonly=True
    )
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    company_currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    date = fields.Date(string="Opened On", readonly=True)
    date_closed = fields.Date(string="Closed On", readonly=True)
    dispute_count = fields.Integer(string="Disputes", readonly=True)
    days_to_resolve = fields.Integer(
        readonly=True,
        aggregator="avg",
        help="Days from the opening to the closing of a dispute closed with an "
        "outcome. Empty for open and cancelled disputes, which averages leave "
        "out.",
    )
    amount_disputed = fields.Monetary(
        currency_field="company_currency_id",
        readonly=True,
        help="Amount disputed, in the company currency at the rate of each invoice.",
    )

    def init(self):
        drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %(view)s AS (
                    SELECT dispute.id,
                           dispute.id AS dispute_id,
                           dispute.reason_id,
                           dispute.state,
                           dispute.outcome,
                           dispute.partner_id,
                           dispute.user_id,
                           dispute.company_id,
                           company.currency_id AS company_currency_id,
                           dispute.date,
                           dispute.date_closed,
                           1 AS dispute_count,
                           CASE WHEN dispute.state = 'closed'
                                THEN dispute.date_closed - dispute.date
                           END AS days_to_resolve,
                           COALESCE(disputed.amount, 0) AS amount_disputed
                      FROM collection_dispute dispute
                      JOIN res_company company ON company.id = dispute.company_id
                 LEFT JOIN (
                            SELECT line.dispute_id,
                                   SUM(line.amount_disputed * item.balance
                                       / NULLIF(item.amount_currency, 0))
                                       AS amount
                              FROM collection_dispute_line line
                              JOIN account_move_line item
                                ON item.id = line.move_line_id
                          GROUP BY line.dispute_id
                           ) disputed ON disputed.dispute_id = dispute.id
                )
                """,
                view=SQL.identifier(self._table),
            )
        )
