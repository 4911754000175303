from odoo import fields, models
from odoo.tools import SQL, drop_view_if_exists

from ..models.collection_run import CHASED_MOVE_TYPES


class CollectionRecoveryReport(models.Model):
    """Payment reconciled with a chased item, under the stage the item was at
    when it was paid.

    A SQL view: one row per reconciliation of an invoice's receivable item
    with a payment. The stage is that of the item's latest stage change
    (collection history, skipped stages left out) recorded on or before the
    payment date. An item paid before reaching any stage has none. Credit
    notes and exchange-difference entries are not payments and are left out,
    as in the promise and plan checks.
    """

    _name = "collection.recovery.report"
    _description = "Collection Amounts Recovered by Stage"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "move_id"
    _depends = {
        "account.partial.reconcile": [
            "amount",
            "company_id",
            "credit_move_id",
            "debit_amount_currency",
            "debit_move_id",
            "max_date",
        ],
        "account.move.line": [
            "account_id",
            "company_currency_id",
            "currency_id",
            "date",
            "date_maturity",
            "journal_id",
            "move_id",
            "parent_state",
            "partner_id",
        ],
        "account.move": ["move_type"],
        "collection.history": ["date", "move_line_id", "stage_id", "state"],
        "res.partner": ["collection_user_id", "commercial_partner_id"],
    }

    date = fields.Date(
        string="Paid On",
        readonly=True,
        help="Date of the reconciliation: the later of the payment and invoice dates.",
    )
    move_line_id = fields.Many2one(
        comodel_name="account.move.line", string="Journal Item", readonly=True
    )
    move_id = fields.Many2one(
        comodel_name="account.move", string="Invoice", readonly=True
    )
    payment_move_id = fields.Many2one(
        comodel_name="account.move", string="Payment", readonly=True
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner", string="Customer", readonly=True
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        readonly=True,
        help="The customer's collector.",
    )
    stage_id = fields.Many2one(
        comodel_name="collection.stage",
        string="Stage When Paid",
        readonly=True,
        help="Stage the item was at on the payment date. Empty when it was "
        "paid before reaching any stage.",
    )
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    company_currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    days_overdue = fields.Integer(
        string="Days Overdue When Paid",
        readonly=True,
        aggregator="avg",
        help="Days from the due date to the payment date, negative when paid "
        "before it.",
    )
    amount = fields.Monetary(
        string="Amount Recovered",
        currency_field="company_currency_id",
        readonly=True,
        help="Amount of the item paid, in the company currency.",
    )
    amount_currency = fields.Monetary(
        string="Amount Recovered in Currency",
        currency_field="currency_id",
        readonly=True,
        help="Amount of the item paid, in the item's currency. Add it up only "
        "within one currency.",
    )

    def init(self):
        drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %(view)s AS (
                    SELECT partial.id,
                           partial.max_date AS date,
                           item.id AS move_line_id,
                           item.move_id,
                           payment_line.move_id AS payment_move_id,
                           partner.commercial_partner_id AS partner_id,
                           %(collector)s AS user_id,
                           stage_when_paid.stage_id,
                           partial.company_id,
                           item.company_currency_id,
                           item.currency_id,
                           partial.max_date
                               - COALESCE(item.date_maturity, item.date)
                               AS days_overdue,
                           partial.amount,
                           partial.debit_amount_currency AS amount_currency
                      FROM account_partial_reconcile partial
                      JOIN account_move_line item
                        ON item.id = partial.debit_move_id
                      JOIN account_move move ON move.id = item.move_id
                      JOIN account_account account ON account.id = item.account_id
                      JOIN account_move_line payment_line
                        ON payment_line.id = partial.credit_move_id
                      JOIN account_move payment_move
                        ON payment_move.id = payment_line.move_id
                      JOIN res_company company ON company.id = partial.company_id
                 LEFT JOIN res_partner partner ON partner.id = item.partner_id
                 LEFT JOIN res_partner commercial
                        ON commercial.id = partner.commercial_partner_id
                 LEFT JOIN LATERAL (
                            SELECT history.stage_id
                              FROM collection_history history
                              JOIN collection_stage stage
                                ON stage.id = history.stage_id
                             WHERE history.move_line_id = item.id
                               AND history.state != 'skipped'
                               AND history.date <= partial.max_date
                          ORDER BY history.date DESC, stage.offset_days DESC,
                                   history.id DESC
                             LIMIT 1
                           ) stage_when_paid ON TRUE
                     WHERE item.parent_state = 'posted'
                       AND account.account_type = 'asset_receivable'
                       AND move.move_type IN %(move_types)s
                       AND payment_move.move_type != 'out_refund'
                       AND payment_line.journal_id IS DISTINCT FROM
                           company.currency_exchange_journal_id
                )
                """,
                view=SQL.identifier(self._table),
                collector=self.env["res.partner"]._get_collection_user_sql(
                    "commercial", SQL("partial.company_id")
                ),
                move_types=CHASED_MOVE_TYPES,
            )
        )
