from collections import Counter

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .account_move import COLLECTION_GROUPS
from .collection_run import CHASED_MOVE_TYPES


class ResPartner(models.Model):
    _inherit = "res.partner"

    collection_user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        tracking=True,
        groups=COLLECTION_GROUPS,
        help="User who chases this customer's overdue invoices.",
    )
    collection_policy_id = fields.Many2one(
        comodel_name="collection.policy",
        company_dependent=True,
        groups=COLLECTION_GROUPS,
        help="Policy for this customer in the current company. Empty: the "
        "company's default policy.",
    )
    collection_contact_id = fields.Many2one(
        comodel_name="res.partner",
        string="Collections Contact",
        domain="[('commercial_partner_id', '=', commercial_partner_id)]",
        groups=COLLECTION_GROUPS,
        help="Contact that receives collection notices. Empty: the contact the "
        "latest overdue invoice was addressed to.",
    )
    collection_hold_until = fields.Date(
        string="Do Not Chase Until",
        tracking=True,
        groups=COLLECTION_GROUPS,
        help="The collection run leaves this customer alone up to this date, included.",
    )
    collection_hold_reason = fields.Char(
        string="Reason Not To Chase", tracking=True, groups=COLLECTION_GROUPS
    )
    collection_credit_hold = fields.Boolean(
        string="Credit Hold",
        readonly=True,
        company_dependent=True,
        groups=COLLECTION_GROUPS,
        help="Set in the current company by a collection stage. It is "
        "informative and lifted by the run once nothing is overdue there.",
    )
    collection_currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
    )
    collection_amount_due = fields.Monetary(
        string="Total Owed",
        currency_field="collection_currency_id",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
        help="Residual of the open customer invoices, in the company currency.",
    )
    collection_legal_case_ids = fields.One2many(
        comodel_name="collection.legal.case",
        inverse_name="partner_id",
        string="Legal Cases",
        groups=COLLECTION_GROUPS,
    )
    collection_amount_overdue = fields.Monetary(
        string="Total Overdue",
        currency_field="collection_currency_id",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
    )
    collection_amount_credit = fields.Monetary(
        string="Open Credits",
        currency_field="collection_currency_id",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
        help="Open credit notes and unreconciled payments, in the company "
        "currency. The collection notices deduct them from the amount asked.",
    )
    collection_max_days_overdue = fields.Integer(
        string="Oldest Delay (Days)",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
    )
    collection_stage_id = fields.Many2one(
        comodel_name="collection.stage",
        compute="_compute_collection_totals",
        groups=COLLECTION_GROUPS,
        help="Highest stage among the customer's open invoices.",
    )
    collection_notice_ids = fields.One2many(
        comodel_name="collection.notice",
        inverse_name="partner_id",
        string="Collection Notices",
        groups=COLLECTION_GROUPS,
    )
    collection_notice_count = fields.Integer(
        compute="_compute_collection_notice_count", groups=COLLECTION_GROUPS
    )

    collection_promise_count = fields.Integer(
        string="Promises to Pay",
        compute="_compute_collection_negotiation",
        groups=COLLECTION_GROUPS,
    )
    collection_promise_kept_rate = fields.Float(
        string="Promise-Kept Rate (%)",
        compute="_compute_collection_negotiation",
        groups=COLLECTION_GROUPS,
        help="Share of this customer's promises to pay that were kept, among "
        "those kept or broken.",
    )
    collection_plan_count = fields.Integer(
        string="Payment Plans",
        compute="_compute_collection_negotiation",
        groups=COLLECTION_GROUPS,
    )
    collection_dispute_count = fields.Integer(
        string="Disputes",
        compute="_compute_collection_dispute_count",
        groups=COLLECTION_GROUPS,
    )
    collection_instrument_count = fields.Integer(
        string="Instruments Received",
        compute="_compute_collection_instrument_count",
        groups=COLLECTION_GROUPS,
        help="Cheques, notes, cash and slips of this customer in payment pouches.",
    )
    collection_bounced_count = fields.Integer(
        string="Instruments Bounced",
        compute="_compute_collection_instrument_count",
        groups=COLLECTION_GROUPS,
    )

    @api.constrains("collection_contact_id")
    def _check_collection_contact(self):
        for partner in self.filtered("collection_contact_id"):
            contact = partner.collection_contact_id
            if contact.commercial_partner_id != partner.commercial_partner_id:
                raise ValidationError(
                    _(
                        "%(contact)s cannot receive the collection notices of "
                        "%(partner)s: choose a contact of %(partner)s.",
                        contact=contact.display_name,
                        partner=partner.commercial_partner_id.display_name,
                    )
                )

    @api.constrains("collection_hold_until", "collection_hold_reason")
    def _check_collection_hold_reason(self):
        for partner in self.filtered("collection_hold_until"):
            if not (partner.collection_hold_reason or "").strip():
                raise ValidationError(
                    _(
                        "Give the reason why %(partner)s is not to be chased until "
                        "%(date)s.",
                        partner=partner.display_name,
                        date=partner.collection_hold_until,
                    )
                )

    @api.depends_context("company")
    def _compute_collection_totals(self):
        company = self.env.company
        today = fields.Date.context_today(self)
        totals = {}
        credits = {}
        partner_ids = tuple(self.commercial_partner_id.ids)
        if partner_ids:
            self.env.flush_all()
            self.env.cr.execute(
                """
                SELECT partner.commercial_partner_id,
                       SUM(aml.amount_residual),
                       SUM(aml.amount_residual)
                           FILTER (WHERE aml.date_maturity < %(today)s),
                       MIN(aml.date_maturity),
                       (ARRAY_AGG(aml.collection_stage_id ORDER BY stage.offset_days
                                  DESC NULLS LAST))[1]
                  FROM account_move_line aml
                  JOIN account_move move ON move.id = aml.move_id
                  JOIN account_account account ON account.id = aml.account_id
                  JOIN res_partner partner ON partner.id = aml.partner_id
                  LEFT JOIN collection_stage stage
                    ON stage.id = aml.collection_stage_id
                 WHERE partner.commercial_partner_id IN %(partner_ids)s
                   AND aml.company_id = %(company_id)s
                   AND aml.parent_state = 'posted'
                   AND account.account_type = 'asset_receivable'
                   AND move.move_type IN %(move_types)s
                   AND aml.reconciled IS NOT TRUE
                   AND aml.amount_residual > 0
              GROUP BY partner.commercial_partner_id
                """,
                {
                    "partner_ids": partner_ids,
                    "company_id": company.id,
                    "today": today,
                    "move_types": CHASED_MOVE_TYPES,
                },
            )
            totals = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            self.env.cr.execute(
                """
                SELECT partner.commercial_partner_id, -SUM(aml.amount_residual)
                  FROM account_move_line aml
                  JOIN account_account account ON account.id = aml.account_id
                  JOIN res_partner partner ON partner.id = aml.partner_id
                  JOIN res_company company ON company.id = aml.company_id
                 WHERE partner.commercial_partner_id IN %(partner_ids)s
                   AND aml.company_id = %(company_id)s
                   AND aml.parent_state = 'posted'
                   AND account.account_type = 'asset_receivable'
                   AND aml.reconciled IS NOT TRUE
                   AND aml.amount_residual < 0
                   AND aml.journal_id IS DISTINCT FROM
                       company.currency_exchange_journal_id
              GROUP BY partner.commercial_partner_id
                """,
                {"partner_ids": partner_ids, "company_id": company.id},
            )
            credits = dict(self.env.cr.fetchall())
        for partner in self:
            due, overdue, oldest_due, stage_id = totals.get(
                partner.commercial_partner_id.id, (0.0, 0.0, None, None)
            )
            partner.collection_currency_id = company.currency_id
            partner.collection_amount_due = due or 0.0
            partner.collection_amount_overdue = overdue or 0.0
            partner.collection_amount_credit = credits.get(
                partner.commercial_partner_id.id, 0.0
            )
            partner.collection_max_days_overdue = (
                max((today - oldest_due).days, 0) if oldest_due else 0
            )
            partner.collection_stage_id = stage_id

    @api.model
    def _get_collection_user_sql(self, partner_alias, company_id_sql):
        """Return the SQL of the collector of the partner row ``partner_alias``
        in the company whose id the SQL ``company_id_sql`` gives.

        For the analysis views, which read the column without the ORM. A
        company-dependent field is stored as JSON keyed by company id, a plain
        many2one as an integer column.
        """
        column = SQL.identifier(partner_alias, "collection_user_id")
        if self._fields["collection_user_id"].company_dependent:
            # NOTE: the tests cover the plain many2one column only.
            return SQL("(%s ->> %s::text)::integer", column, company_id_sql)
        return column

    def _compute_collection_notice_count(self):
        counts = dict(
            self.env["collection.notice"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.collection_notice_count = counts.get(
                partner.commercial_partner_id, 0
            )

    def _compute_collection_negotiation(self):
        commercial_ids = self.commercial_partner_id.ids
        promise_counts = Counter()
        kept_counts = Counter()
        closed_counts = Counter()
        for partner, state, count in self.env["collection.promise"]._read_group(
            [("partner_id", "in", commercial_ids)],
            ["partner_id", "state"],
            ["__count"],
        ):
            promise_counts[partner.id] += count
            if state in ("kept", "broken"):
                closed_counts[partner.id] += count
            if state == "kept":
                kept_counts[partner.id] += count
        plan_counts = dict(
            self.env["collection.plan"]._read_group(
                [("partner_id", "in", commercial_ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            commercial_id = partner.commercial_partner_id.id
            partner.collection_promise_count = promise_counts[commercial_id]
            closed = closed_counts[commercial_id]
            partner.collection_promise_kept_rate = (
                100.0 * kept_counts[commercial_id] / closed if closed else 0.0
            )
            partner.collection_plan_count = plan_counts.get(
                partner.commercial_partner_id, 0
            )

    def _compute_collection_dispute_count(self):
        counts = dict(
            self.env["collection.dispute"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.collection_dispute_count = counts.get(
                partner.commercial_partner_id, 0
            )

    def _compute_collection_instrument_count(self):
        counts = {
            (partner, state): count
            # Legal users read no pouches but see the counts.
            for partner, state, count in self.env["collection.pouch.item"]
            .sudo()
            ._read_group(
                [
                    ("commercial_partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "in", self.env.companies.ids),
                ],
                ["commercial_partner_id", "state"],
                ["__count"],
            )
        }
        for partner in self:
            commercial = partner.commercial_partner_id
            partner.collection_instrument_count = sum(
                count
                for (other, _state), count in counts.items()
                if other == commercial
            )
            partner.collection_bounced_count = counts.get((commercial, "bounced"), 0)

    def action_view_collection_instruments(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_pouch_item_action"
        )
        action["domain"] = [
            ("commercial_partner_id", "=", self.commercial_partner_id.id)
        ]
        action["context"] = {"search_default_group_by_state": 1}
        return action

    def _get_collection_open_lines(self, for_plan=False):
        """Return the customer's open items to negotiate in the current company.

        Items already in a plan in progress, under an open promise (unless
        ``for_plan``, because a plan replaces the promise) or in dispute are
        left out. The overdue items come first. Without any, all open items
        are taken.
        """
        self.ensure_one()
        domain = [
            ("partner_id", "child_of", self.commercial_partner_id.id),
            ("company_id", "=", self.env.company.id),
            ("parent_state", "=", "posted"),
            ("account_id.account_type", "=", "asset_receivable"),
            ("move_id.move_type", "in", CHASED_MOVE_TYPES),
            ("reconciled", "=", False),
            ("amount_residual_currency", ">", 0),
        ]
        lines = self.env["account.move.line"].search(domain)
        lines = lines._filter_collection_negotiable(for_plan=for_plan)
        today = fields.Date.context_today(self)
        overdue = lines.filtered(lambda line: line.date_maturity < today)
        if not lines:
            raise UserError(
                _(
                    "%(customer)s owes nothing in %(company)s that is not "
                    "already in a payment plan, under a promise or in dispute.",
                    customer=self.commercial_partner_id.display_name,
                    company=self.env.company.name,
                )
            )
        overdue = overdue or lines
        # One currency at a time: that of the oldest overdue item.
        currency = overdue.sorted("date_maturity")[0].currency_id
        return overdue.filtered(lambda line: line.currency_id == currency)

    def action_collection_promise(self):
        lines = self._get_collection_open_lines()
        return self.env["collection.promise"]._action_new_for_lines(lines)

    def action_collection_plan(self):
        lines = self._get_collection_open_lines(for_plan=True)
        return self.env["collection.plan"]._action_new_for_lines(lines)

    def action_view_collection_promises(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_promise_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {}
        return action

    def action_view_collection_plans(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_plan_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {}
        return action

    def action_view_collection_disputes(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_dispute_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {}
        return action

    def action_collection_run_now(self):
        """Run the collection now for these customers in the current company."""
        runs = self.env["collection.run"]
        runs._check_manager()
        runs = runs._run_collections(companies=self.env.company, partners=self)
        return runs._action_show_runs(runs)

    def action_view_collection_items(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_item_action"
        )
        action["context"] = {
            "search_default_partner_id": self.commercial_partner_id.id,
            "search_default_overdue": 1,
        }
        return action

    def action_view_collection_notices(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_notice_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {}
        return action
