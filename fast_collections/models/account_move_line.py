from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..rules.staging import days_from_due
from .account_move import COLLECTION_GROUPS

# States of a payment plan in which its items belong to it: no other plan may
# cover them.
PLAN_BUSY_STATES = ("to_approve", "approved", "sent", "active")


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    # Written in bulk by the collection run, never by the ORM: see
    # collection.run._write_item_stages.
    collection_stage_id = fields.Many2one(
        comodel_name="collection.stage",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups=COLLECTION_GROUPS,
        group_expand="_read_group_collection_stage_ids",
    )
    collection_stage_date = fields.Date(
        string="Stage Reached On",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
    )
    collection_reach_issue = fields.Char(
        string="Not Reached",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
        help="Why the last collection notice for this item could not be sent.",
    )
    collection_days_overdue = fields.Integer(
        string="Days Overdue",
        compute="_compute_collection_days_overdue",
        groups=COLLECTION_GROUPS,
        help="Days since the due date, today. Negative before it.",
    )
    collection_user_id = fields.Many2one(
        related="partner_id.commercial_partner_id.collection_user_id",
        string="Collector",
        groups=COLLECTION_GROUPS,
    )
    collection_history_ids = fields.One2many(
        comodel_name="collection.history",
        inverse_name="move_line_id",
        groups=COLLECTION_GROUPS,
    )

    collection_promise_ids = fields.Many2many(
        comodel_name="collection.promise",
        relation="collection_promise_move_line_rel",
        column1="move_line_id",
        column2="promise_id",
        string="Promises to Pay",
        copy=False,
        groups=COLLECTION_GROUPS,
    )
    collection_plan_ids = fields.Many2many(
        comodel_name="collection.plan",
        relation="collection_plan_move_line_rel",
        column1="move_line_id",
        column2="plan_id",
        string="Payment Plans",
        copy=False,
        groups=COLLECTION_GROUPS,
    )
    collection_dispute_line_ids = fields.One2many(
        comodel_name="collection.dispute.line",
        inverse_name="move_line_id",
        string="Disputes",
        groups=COLLECTION_GROUPS,
    )
    collection_days_paused = fields.Integer(
        string="Days in Dispute",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
        help="Overdue days this item spent disputed in full before the dispute "
        "was rejected. Policies that do not count days in dispute subtract them "
        "from the delay that decides the stage.",
    )

    collection_claim_reference = fields.Char(
        string="Legal Claim",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
        help="Reference of the legal claim filed for this item. An item with a "
        "legal claim has left the automatic collection for good.",
    )
    collection_claim_date = fields.Date(
        string="Legal Claim Filed On",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
    )
    collection_origin_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Charged For Invoice",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Overdue invoice whose late-payment interest or recovery fee this "
        "line charges.",
    )
    collection_interest_date = fields.Date(
        string="Interest Charged Up To",
        readonly=True,
        copy=False,
        groups=COLLECTION_GROUPS,
        help="Last day whose late-payment interest has been charged on this "
        "item. The next charge starts on the day after.",
    )
    collection_legal_case_ids = fields.Many2many(
        comodel_name="collection.legal.case",
        relation="collection_legal_case_move_line_rel",
        column1="move_line_id",
        column2="case_id",
        string="Legal Cases",
        copy=False,
        groups=COLLECTION_GROUPS,
    )

    @api.depends_context("company")
    @api.depends("date_maturity")
    def _compute_collection_days_overdue(self):
        today = fields.Date.context_today(self)
        for line in self:
            line.collection_days_overdue = (
                days_from_due(line.date_maturity, today) if line.date_maturity else 0
            )

    @api.model
    def _read_group_collection_stage_ids(self, stages, domain):
        """Show every stage of the active policies as a kanban column."""
        return stages.search(
            [("policy_id.active", "=", True)], order="policy_id, offset_days, id"
        )

    def _get_collection_paid_amounts(self, since, excluded_move_ids=()):
        """Return {item id: amount} paid on each item on or after ``since``.

        Amounts are in the item's own currency. Reconciliations with credit
        notes are not payments and are left out, as are those with the
        entries of ``excluded_move_ids``.
        """
        if not self:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT partial.debit_move_id, SUM(partial.debit_amount_currency)
              FROM account_partial_reconcile partial
              JOIN account_move_line credit_line
                ON credit_line.id = partial.credit_move_id
              JOIN account_move credit_move ON credit_move.id = credit_line.move_id
             WHERE partial.debit_move_id IN %s
               AND partial.max_date >= %s
               AND credit_move.move_type != 'out_refund'
               AND credit_line.move_id NOT IN %s
          GROUP BY partial.debit_move_id
            """,
            [tuple(self.ids), since, tuple(excluded_move_ids) or (0,)],
        )
        return dict(self.env.cr.fetchall())

    def _get_collection_disputed_amounts(self, excluded_dispute_ids=(), for_plan=False):
        """Return {item id: amount} under open disputes for each of these items.

        Amounts are in the item's own currency. The disputes of
        ``excluded_dispute_ids`` are left out, and so are those being settled
        by a payment plan (outcome Payment Plan) when ``for_plan`` is set.
        """
        if not self:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT line.move_line_id, SUM(line.amount_disputed)
              FROM collection_dispute_line line
              JOIN collection_dispute dispute ON dispute.id = line.dispute_id
             WHERE line.move_line_id IN %s
               AND dispute.state = 'open'
               AND dispute.id NOT IN %s
               AND (%s IS NOT TRUE OR dispute.outcome IS DISTINCT FROM 'plan')
          GROUP BY line.move_line_id
            """,
            [tuple(self.ids), tuple(excluded_dispute_ids) or (0,), for_plan],
        )
        return dict(self.env.cr.fetchall())

    def _filter_collection_negotiable(self, for_plan=False):
        """Return the items free for a new promise, or a new plan if ``for_plan``.

        Leaves out the items of plans in progress, and those under an open
        promise or in dispute as _check_collection_negotiable would refuse.
        """
        disputed = self._get_collection_disputed_amounts(for_plan=for_plan)
        sudo_self = self.sudo()

        def is_free(line):
            if any(plan.state in PLAN_BUSY_STATES for plan in line.collection_plan_ids):
                return False
            if line.id in disputed:
                fully_disputed = (
                    line.currency_id.compare_amounts(
                        disputed[line.id], line.amount_residual_currency
                    )
                    >= 0
                )
                if for_plan or fully_disputed:
                    return False
            if not for_plan and any(
                promise.state == "open" for promise in line.collection_promise_ids
            ):
                return False
            return True

        return self.browse(sudo_self.filtered(is_free).ids)

    def _check_collection_negotiable(self, promise=None, plan=None):
        """Raise a UserError unless the items can be covered by a promise or plan.

        The items must be open receivable items of posted customer invoices,
        of one customer, one company and one currency. Items under another
        open promise are refused for a promise, and items in another plan in
        progress are refused for a promise or a plan. Items in dispute are
        refused for a plan, and for a promise when disputed in full, except
        for a plan over a dispute whose outcome is Payment Plan: that plan is
        how the dispute gets settled. ``promise`` and ``plan`` are the record
        being checked, left out of the search for others.
        """
        if not self:
            raise UserError(_("Select at least one open customer invoice."))
        for line in self:
            move = line.move_id
            if (
                line.account_id.account_type != "asset_receivable"
                or move.move_type not in ("out_invoice", "out_receipt")
                or move.state != "posted"
            ):
                raise UserError(
                    _(
                        "%(entry)s is not a posted customer invoice. Only the "
                        "amounts owed on posted customer invoices can be "
                        "negotiated.",
                        entry=move.display_name,
                    )
                )
            if line.reconciled or line.currency_id.is_zero(
                line.amount_residual_currency
            ):
                raise UserError(
                    _(
                        "%(invoice)s is already paid. Remove it from the selection.",
                        invoice=move.display_name,
                    )
                )
        partners = self.partner_id.commercial_partner_id
        if len(partners) > 1:
            raise UserError(
                _(
                    "The selected invoices belong to several customers "
                    "(%(customers)s). Negotiate with one customer at a time.",
                    customers=", ".join(partners.mapped("display_name")),
                )
            )
        if len(self.company_id) > 1:
            raise UserError(
                _(
                    "The selected invoices belong to several companies "
                    "(%(companies)s). Negotiate in one company at a time.",
                    companies=", ".join(self.company_id.mapped("name")),
                )
            )
        if len(self.currency_id) > 1:
            raise UserError(
                _(
                    "The selected invoices are in several currencies "
                    "(%(currencies)s). Negotiate the invoices of one currency "
                    "at a time.",
                    currencies=", ".join(self.currency_id.mapped("name")),
                )
            )
        other_plans = self.sudo().collection_plan_ids.filtered(
            lambda other: other.state in PLAN_BUSY_STATES and other != plan
        )
        if other_plans:
            raise UserError(
                _(
                    "%(invoices)s already belong to the payment plan %(plan)s. "
                    "Cancel that plan first, or leave these invoices out.",
                    invoices=", ".join(
                        (other_plans.move_line_ids & self).move_id.mapped("name")
                    ),
                    plan=other_plans[0].name,
                )
            )
        disputed = self._get_collection_disputed_amounts(for_plan=plan is not None)
        for line in self.filtered(lambda line: line.id in disputed):
            # A plan settles the whole residual, so no part of it may be in
            # dispute. A promise may cover the undisputed part of an item.
            fully_disputed = (
                line.currency_id.compare_amounts(
                    disputed[line.id], line.amount_residual_currency
                )
                >= 0
            )
            if plan is not None or fully_disputed:
                raise UserError(
                    _(
                        "%(invoice)s is in dispute. Close its dispute before "
                        "negotiating it, or leave it out.",
                        invoice=line.move_id.display_name,
                    )
                )
        if plan is None:
            other_promises = self.sudo().collection_promise_ids.filtered(
                lambda other: other.state == "open" and other != promise
            )
            if other_promises:
                raise UserError(
                    _(
                        "%(invoices)s are already covered by the open promise "
                        "to pay %(promise)s. Update that promise instead.",
                        invoices=", ".join(
                            (other_promises.move_line_ids & self).move_id.mapped("name")
                        ),
                        promise=other_promises[0].name,
                    )
                )
