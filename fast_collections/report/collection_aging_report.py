from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL, drop_view_if_exists

from ..models.collection_run import CHASED_MOVE_TYPES
from ..rules.aging import DEFAULT_LIMITS

# The chased items, and the open credit notes that lower what the customer
# owes, as the collection notices list them.
AGED_MOVE_TYPES = (*CHASED_MOVE_TYPES, "out_refund")

# Context key of the date the report is computed at, instead of today.
AGING_DATE_KEY = "collection_aging_date"


class CollectionAgingReport(models.Model):
    """Open receivable item of a posted customer invoice or credit note, aged.

    A SQL view (``_auto = False``, created by ``init``) ages the items to
    today in each company's time zone, so the report is always current and
    costs no storage. With a date in the context key
    ``collection_aging_date``, the same query runs as a table query, aged to
    that date and with the residual as it was then: reconciliations dated
    after it are added back. A view cannot take that date as a parameter, and
    a table filled on demand would have to be refilled for each user and date.
    Open credit notes are current (0 days overdue), as on the notices.
    """

    _name = "collection.aging.report"
    _description = "Collection Aging Analysis"
    _auto = False
    _order = "date_maturity, id"
    _rec_name = "move_id"
    _depends = {
        "account.move.line": [
            "account_id",
            "amount_residual",
            "amount_residual_currency",
            "balance",
            "collection_stage_id",
            "company_currency_id",
            "company_id",
            "currency_id",
            "date",
            "date_maturity",
            "move_id",
            "parent_state",
            "partner_id",
            "reconciled",
        ],
        "account.move": ["move_type", "invoice_date"],
        "account.partial.reconcile": [
            "amount",
            "credit_amount_currency",
            "credit_move_id",
            "debit_amount_currency",
            "debit_move_id",
            "max_date",
        ],
        "res.company": ["collection_aging_limits"],
        "res.partner": ["collection_user_id", "commercial_partner_id", "tz"],
    }

    move_line_id = fields.Many2one(
        comodel_name="account.move.line", string="Journal Item", readonly=True
    )
    move_id = fields.Many2one(
        comodel_name="account.move", string="Invoice", readonly=True
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        readonly=True,
        help="Commercial partner that owes the item.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        readonly=True,
        help="The customer's collector.",
    )
    stage_id = fields.Many2one(
        comodel_name="collection.stage",
        readonly=True,
        help="Collection stage the item is at now, also when the report is "
        "computed at an earlier date.",
    )
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    company_currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    is_credit = fields.Boolean(
        string="Credit Note",
        readonly=True,
        help="Open credit note or unapplied payment, which lowers what the "
        "customer owes.",
    )
    invoice_date = fields.Date(readonly=True)
    date_maturity = fields.Date(string="Due Date", readonly=True)
    aging_date = fields.Date(
        string="Aged On", readonly=True, help="Date the days overdue are counted to."
    )
    days_overdue = fields.Integer(
        readonly=True,
        aggregator="max",
        help="Days from the due date to the aging date, zero or less when not "
        "yet due. Zero for credit notes.",
    )
    aging_bucket = fields.Selection(
        selection="_selection_aging_bucket",
        readonly=True,
        group_expand=True,
        help="Range of days overdue, from the aging buckets of the company's "
        "Collections settings.",
    )
    amount_residual = fields.Monetary(
        string="Amount Due",
        currency_field="company_currency_id",
        readonly=True,
        help="Amount still owed on the aging date, in the company currency.",
    )
    amount_residual_currency = fields.Monetary(
        string="Amount Due in Currency",
        currency_field="currency_id",
        readonly=True,
        help="Amount still owed on the aging date, in the item's currency. Add "
        "it up only within one currency.",
    )

    @api.model
    def _selection_aging_bucket(self):
        """Return the buckets by index, labelled with the ranges of the user's
        companies. Companies whose ranges differ get their labels joined by a
        slash."""
        labels_by_index = defaultdict(list)
        for company in self.env.companies:
            labels = company._get_collection_aging_labels()
            for index, label in enumerate(labels):
                if label not in labels_by_index[index]:
                    labels_by_index[index].append(label)
        return [
            (str(index), " / ".join(labels))
            for index, labels in sorted(labels_by_index.items())
        ]

    @property
    def _table_query(self):
        aging_date = self.env.context.get(AGING_DATE_KEY)
        if not aging_date:
            return None
        aging_dates = SQL(
            "SELECT company.id AS company_id, %s::date AS aging_date "
            "FROM res_company company",
            fields.Date.to_date(aging_date),
        )
        return self._aging_query(aging_dates)

    def init(self):
        drop_view_if_exists(self.env.cr, self._table)
        # Today in each company's time zone. A zone unknown to PostgreSQL
        # falls back to UTC instead of failing the whole report.
        todays = SQL(
            """
            SELECT company.id AS company_id,
                   (now() AT TIME ZONE COALESCE(zone.name, 'UTC'))::date
                       AS aging_date
              FROM res_company company
              JOIN res_partner company_partner
                ON company_partner.id = company.partner_id
         LEFT JOIN pg_timezone_names zone ON zone.name = company_partner.tz
            """
        )
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                self._aging_query(todays),
            )
        )

    @api.model
    def _aging_query(self, aging_dates):
        """Return the query of the report, ``aging_dates`` giving the aging
        date of each company as rows of (company_id, aging_date)."""
        return SQL(
            """
            WITH aging_date AS (%(aging_dates)s),
            later_reconciliation AS (
                SELECT reconciled.line_id,
                       SUM(reconciled.amount) AS amount,
                       SUM(reconciled.amount_currency) AS amount_currency
                  FROM (
                        SELECT partial.debit_move_id AS line_id,
                               partial.amount,
                               partial.debit_amount_currency AS amount_currency
                          FROM account_partial_reconcile partial
                          JOIN aging_date
                            ON aging_date.company_id = partial.company_id
                         WHERE partial.max_date > aging_date.aging_date
                     UNION ALL
                        SELECT partial.credit_move_id,
                               -partial.amount,
                               -partial.credit_amount_currency
                          FROM account_partial_reconcile partial
                          JOIN aging_date
                            ON aging_date.company_id = partial.company_id
                         WHERE partial.max_date > aging_date.aging_date
                       ) reconciled
              GROUP BY reconciled.line_id
            ),
            item AS (
                SELECT aml.id,
                       aml.move_id,
                       aml.partner_id,
                       aml.company_id,
                       aml.company_currency_id,
                       aml.currency_id,
                       aml.collection_stage_id,
                       aml.balance < 0 AS is_credit,
                       move.invoice_date,
                       aml.date_maturity,
                       aging_date.aging_date,
                       CASE WHEN aml.balance < 0 THEN 0
                            ELSE aging_date.aging_date
                                 - COALESCE(aml.date_maturity, aml.date)
                       END AS days_overdue,
                       aml.amount_residual + COALESCE(later.amount, 0)
                           AS amount_residual,
                       aml.amount_residual_currency
                           + COALESCE(later.amount_currency, 0)
                           AS amount_residual_currency
                  FROM account_move_line aml
                  JOIN aging_date ON aging_date.company_id = aml.company_id
                  JOIN account_move move ON move.id = aml.move_id
                  JOIN account_account account ON account.id = aml.account_id
             LEFT JOIN later_reconciliation later ON later.line_id = aml.id
                 WHERE aml.parent_state = 'posted'
                   AND account.account_type = 'asset_receivable'
                   AND (move.move_type IN %(move_types)s
                        OR (move.origin_payment_id IS NOT NULL
                            AND aml.balance < 0))
                   AND aml.date <= aging_date.aging_date
                   AND (aml.reconciled IS NOT TRUE OR later.line_id IS NOT NULL)
            )
            SELECT item.id,
                   item.id AS move_line_id,
                   item.move_id,
                   partner.commercial_partner_id AS partner_id,
                   %(collector)s AS user_id,
                   item.collection_stage_id AS stage_id,
                   item.company_id,
                   item.company_currency_id,
                   item.currency_id,
                   item.is_credit,
                   item.invoice_date,
                   item.date_maturity,
                   item.aging_date,
                   item.days_overdue,
                   (CASE WHEN item.days_overdue <= 0 THEN 0
                         ELSE 1 + (SELECT COUNT(*)
                                     FROM unnest(bucket.limits) AS bucket_limit
                                    WHERE bucket_limit < item.days_overdue)
                    END)::varchar AS aging_bucket,
                   item.amount_residual,
                   item.amount_residual_currency
              FROM item
              JOIN res_company company ON company.id = item.company_id
         LEFT JOIN res_partner partner ON partner.id = item.partner_id
         LEFT JOIN res_partner commercial
                ON commercial.id = partner.commercial_partner_id
             CROSS JOIN LATERAL (
                    SELECT array_remove(
                               string_to_array(
                                   COALESCE(
                                       NULLIF(
                                           regexp_replace(
                                               company.collection_aging_limits,
                                               '[[:space:]]', '', 'g'
                                           ),
                                           ''
                                       ),
                                       %(default_limits)s
                                   ),
                                   ','
                               ),
                               ''
                           )::integer[] AS limits
                   ) bucket
             WHERE item.amount_residual != 0
                OR item.amount_residual_currency != 0
            """,
            aging_dates=aging_dates,
            move_types=AGED_MOVE_TYPES,
            collector=self.env["res.partner"]._get_collection_user_sql(
                "commercial", SQL("item.company_id")
            ),
            default_limits=DEFAULT_LIMITS,
        )
