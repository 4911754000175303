import logging
from collections import Counter, defaultdict
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

LEGAL_GROUP = "fast_collections.group_collection_legal"


class CollectionLegalCase(models.Model):
    """Debt of one customer worked by the legal team.

    A case opens for a dispute whose reason goes to legal, or for the items of
    a customer that reach a stage handing them over to legal. It is assigned
    to a Legal user and closed with an outcome.
    """

    _name = "collection.legal.case"
    _description = "Legal Case"
    _inherit = ["collection.case.mixin", "collection.settlement.mixin"]
    _order = "date_deadline, id"
    _check_company_auto = True

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    state = fields.Selection(
        selection=[
            ("open", "Open"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="open",
        readonly=True,
        tracking=True,
        index=True,
        group_expand="_read_group_state",
    )
    origin = fields.Selection(
        selection=[("dispute", "Dispute"), ("stage", "Stage Hand-Over")],
        required=True,
        readonly=True,
        help="Dispute: opened by a dispute whose reason goes to legal. Stage "
        "Hand-Over: opened by items that reached a stage handing them over to "
        "legal.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        readonly=True,
        index=True,
        help="Commercial partner that owes the items of the case.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_currency_id",
        store=True,
    )
    dispute_id = fields.Many2one(
        comodel_name="collection.dispute",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        check_company=True,
    )
    move_line_ids = fields.Many2many(
        comodel_name="account.move.line",
        relation="collection_legal_case_move_line_rel",
        column1="case_id",
        column2="move_line_id",
        string="Journal Items",
        readonly=True,
        copy=False,
    )
    move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Invoices",
        compute="_compute_move_ids",
        search="_search_move_ids",
    )
    amount_residual = fields.Monetary(
        string="Still Owed",
        compute="_compute_amount_residual",
        help="Amount still owed on the items of the case, in their currency.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Assigned To",
        tracking=True,
        index=True,
        domain="[('share', '=', False)]",
        help="Legal user who works the case. Only the legal team leader or a "
        "collections manager can reassign it.",
    )
    date = fields.Date(
        string="Opened On",
        required=True,
        readonly=True,
        default=fields.Date.context_today,
    )
    date_deadline = fields.Date(
        string="Deadline",
        required=True,
        tracking=True,
        index=True,
        help="Date by which the case must be settled. Once it has passed, the "
        "daily run escalates the case to the legal team leader.",
    )
    date_escalated = fields.Date(
        string="Escalated Deadline",
        readonly=True,
        copy=False,
        help="Deadline for which the case was last escalated, so that each "
        "passed deadline is escalated once.",
    )
    is_overdue = fields.Boolean(
        string="Overdue",
        compute="_compute_is_overdue",
        search="_search_is_overdue",
    )
    date_closed = fields.Date(string="Closed On", readonly=True, copy=False)
    resolution_note = fields.Text(
        string="Resolution", help="What was decided, and why."
    )
    note = fields.Html(help="Progress of the case: calls, letters, hearings.")

    @api.model
    def _read_group_state(self, states, domain):
        return [key for key, __ in self._fields["state"].selection]

    @api.depends("move_line_ids.currency_id", "company_id")
    def _compute_currency_id(self):
        for case in self:
            case.currency_id = (
                case.move_line_ids.currency_id[:1] or case.company_id.currency_id
            )

    @api.depends("move_line_ids.move_id")
    def _compute_move_ids(self):
        for case in self:
            case.move_ids = case.move_line_ids.move_id

    def _search_move_ids(self, operator, value):
        return [("move_line_ids.move_id", operator, value)]

    @api.depends("move_line_ids.amount_residual_currency")
    def _compute_amount_residual(self):
        for case in self:
            case.amount_residual = sum(
                case.move_line_ids.sudo().mapped("amount_residual_currency")
            )

    @api.depends_context("tz")
    @api.depends("date_deadline", "state")
    def _compute_is_overdue(self):
        today = fields.Date.context_today(self)
        for case in self:
            case.is_overdue = (
                case.state == "open"
                and bool(case.date_deadline)
                and case.date_deadline < today
            )

    def _search_is_overdue(self, operator, value):
        if operator not in ("=", "!="):
            raise UserError(
                _(
                    "Searching Overdue with the operator %(operator)s is not "
                    "supported. Use = or !=.",
                    operator=operator,
                )
            )
        today = fields.Date.context_today(self)
        overdue = [("state", "=", "open"), ("date_deadline", "<", today)]
        if (operator == "=") == bool(value):
            return overdue
        return ["!", "&", *overdue]

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "collection.legal.case"
                ) or _("New")
        cases = super().create(vals_list)
        for case in cases.filtered(lambda case: not case.user_id):
            # Not a reassignment, so the leader's check of write() is skipped.
            super(CollectionLegalCase, case).write(
                {"user_id": case._get_next_legal_user().id}
            )
        cases._schedule_deadline_activity()
        cases._post_each(lambda case: case._get_opening_message())
        return cases

    def write(self, vals):
        if "user_id" in vals and not self.env.su:
            self._check_can_reassign()
            self._check_legal_user(self.env["res.users"].browse(vals["user_id"]))
        previous_users = {case: case.user_id for case in self}
        result = super().write(vals)
        if "user_id" in vals:
            moved = self.filtered(lambda case: previous_users[case] != case.user_id)
            moved.activity_unlink(["mail.mail_activity_data_todo"])
            moved._schedule_deadline_activity()
            moved._post_each(
                lambda case: case.env._(
                    "Legal case %(case)s reassigned to %(user)s by %(leader)s.",
                    case=case.name,
                    user=case.user_id.name or case.env._("nobody"),
                    leader=case.env.user.name,
                )
            )
        return result

    def _check_can_reassign(self):
        user = self.env.user
        if user.has_group("fast_collections.group_collection_manager"):
            return
        for case in self:
            if case.company_id.collection_legal_leader_id != user:
                raise AccessError(
                    _(
                        "Only the legal team leader of %(company)s or a collections "
                        "manager can reassign the legal case %(case)s.",
                        company=case.company_id.name,
                        case=case.name,
                    )
                )

    def _check_legal_user(self, user):
        """Raise unless ``user`` is a Legal user the cases may be assigned to."""
        if user and not user.has_group(LEGAL_GROUP):
            raise ValidationError(
                _(
                    "%(user)s is not a Legal user, so the legal case %(cases)s "
                    "cannot be assigned to them. Choose a user of the Legal "
                    "group.",
                    user=user.name,
                    cases=", ".join(self.mapped("name")),
                )
            )

    def _get_covered_moves(self):
        return self.move_line_ids.move_id

    # ------------------------------------------------------------------
    # Opening and assignment
    # ------------------------------------------------------------------

    @api.model
    def _create_for_disputes(self, disputes):
        """Open one legal case per dispute, due at the dispute's deadline."""
        return self.create(
            [
                {
                    "origin": "dispute",
                    "company_id": dispute.company_id.id,
                    "partner_id": dispute.partner_id.id,
                    "dispute_id": dispute.id,
                    "move_line_ids": [Command.set(dispute.line_ids.move_line_id.ids)],
                    "date_deadline": dispute.date_deadline,
                }
                for dispute in disputes
            ]
        )

    @api.model
    def _hand_over_items(self, company, items, today):
        """Add ``items`` to the open stage hand-over case of their customer in
        ``company``, or open one. Return the cases opened."""
        items_by_partner = defaultdict(lambda: self.env["account.move.line"])
        for item in items:
            items_by_partner[item.partner_id.commercial_partner_id] |= item
        open_cases = self.search(
            [
                ("company_id", "=", company.id),
                ("origin", "=", "stage"),
                ("state", "=", "open"),
                ("partner_id", "in", [partner.id for partner in items_by_partner]),
            ]
        )
        case_of_partner = {case.partner_id: case for case in open_cases}
        new_values = []
        for partner, partner_items in items_by_partner.items():
            case = case_of_partner.get(partner)
            if case:
                case.move_line_ids = [Command.link(item.id) for item in partner_items]
                case._post_everywhere(
                    _(
                        "%(invoices)s handed over to legal and added to the legal "
                        "case %(case)s.",
                        invoices=", ".join(partner_items.move_id.mapped("name")),
                        case=case.name,
                    )
                )
                continue
            new_values.append(
                {
                    "origin": "stage",
                    "company_id": company.id,
                    "partner_id": partner.id,
                    "move_line_ids": [Command.set(partner_items.ids)],
                    "date": today,
                    "date_deadline": today
                    + timedelta(days=company.collection_legal_days),
                }
            )
        return self.create(new_values)

    def _get_legal_users(self):
        """Return the active Legal users who work in the case's company."""
        self.ensure_one()
        group = self.env.ref(LEGAL_GROUP)
        return (
            group.sudo()
            .users.filtered(
                lambda user: (
                    user.active
                    and not user.share
                    and self.company_id in user.company_ids
                )
            )
            .sorted("id")
        )

    def _get_next_legal_user(self):
        """Return the Legal user the new case goes to, by the company's rule.

        With no Legal user, the case goes to the legal team leader, or else to
        the company's default collector, the dispute's collector or the user
        who opens the case, so that no case is left unowned.
        """
        self.ensure_one()
        company = self.company_id.sudo()
        users = self._get_legal_users()
        if not users:
            fallback = next(
                (
                    user
                    for user in (
                        company.collection_legal_leader_id,
                        company.collection_user_id,
                        self.dispute_id.user_id,
                        self.env.user,
                    )
                    if user and user.active and not user.share
                ),
                self.env.user,
            )
            _logger.warning(
                "Company %s has no Legal user: legal case %s assigned to user %s",
                company.id,
                self.id,
                fallback.id,
            )
            return fallback
        if company.collection_legal_assignment == "least_loaded":
            loads = Counter(
                dict(
                    self.sudo()._read_group(
                        [
                            ("company_id", "=", company.id),
                            ("state", "=", "open"),
                            ("user_id", "in", users.ids),
                            ("id", "!=", self.id),
                        ],
                        ["user_id"],
                        ["__count"],
                    )
                )
            )
            user = min(users, key=lambda user: (loads[user], user.id))
        else:
            last = company.collection_legal_last_user_id
            after_last = users.filtered(lambda user: user.id > last.id)
            user = after_last[:1] or users[:1]
        company.collection_legal_last_user_id = user
        return user

    def _schedule_deadline_activity(self):
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for case in self.filtered(lambda case: case.user_id and case.state == "open"):
            case.activity_schedule(
                activity_type_id=activity_type.id,
                summary=_(
                    "Work the legal case of %(customer)s",
                    customer=case.partner_id.name,
                ),
                date_deadline=case.date_deadline,
                user_id=case.user_id.id,
            )

    def _get_opening_message(self):
        self.ensure_one()
        if self.origin == "dispute":
            return _(
                "Legal case %(case)s opened for the dispute %(dispute)s, assigned "
                "to %(user)s, deadline %(deadline)s.",
                case=self.name,
                dispute=self.dispute_id.name,
                user=self.user_id.name,
                deadline=self.date_deadline,
            )
        return _(
            "Legal case %(case)s opened: %(invoices)s handed over to legal, "
            "assigned to %(user)s, deadline %(deadline)s.",
            case=self.name,
            invoices=", ".join(self.move_ids.mapped("name")),
            user=self.user_id.name,
            deadline=self.date_deadline,
        )

    # ------------------------------------------------------------------
    # Escalation
    # ------------------------------------------------------------------

    @api.model
    def _escalate_overdue(self, run, partners):
        """Escalate to the legal team leader the open cases of ``run``'s
        company whose deadline has passed, once per passed deadline.

        Return the number of cases escalated.
        """
        self._reassign_unowned(run, partners)
        domain = [
            ("company_id", "=", run.company_id.id),
            ("state", "=", "open"),
            ("date_deadline", "<", run.run_date),
        ]
        if partners:
            domain.append(("partner_id", "in", partners.ids))
        cases = self.search(domain).filtered(
            lambda case: case.date_escalated != case.date_deadline
        )
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for case in cases:
            leader = case._get_escalation_user()
            if leader:
                case.activity_schedule(
                    activity_type_id=activity_type.id,
                    summary=_(
                        "Legal case %(case)s is past its deadline",
                        case=case.name,
                    ),
                    date_deadline=run.run_date,
                    user_id=leader.id,
                )
            else:
                _logger.warning(
                    "Legal case %s of company %s is past its deadline and has "
                    "nobody to escalate it to",
                    case.id,
                    run.company_id.id,
                )
            case.date_escalated = case.date_deadline
            case._post_everywhere(
                _(
                    "Legal case %(case)s passed its deadline of %(deadline)s "
                    "unsettled and was escalated to %(leader)s.",
                    case=case.name,
                    deadline=case.date_deadline,
                    leader=leader.name or _("nobody"),
                )
            )
        return len(cases)

    @api.model
    def _reassign_unowned(self, run, partners):
        """Assign again the open cases of ``run``'s company whose user was
        archived or left the company, or that have no user."""
        domain = [("company_id", "=", run.company_id.id), ("state", "=", "open")]
        if partners:
            domain.append(("partner_id", "in", partners.ids))
        cases = self.search(domain).filtered(
            lambda case: (
                not case.user_id
                or not case.user_id.active
                or case.company_id not in case.user_id.company_ids
            )
        )
        for case in cases:
            previous = case.user_id
            user = case._get_next_legal_user()
            if user == previous or not user.active:
                continue
            case.write({"user_id": user.id})
        return cases

    def _get_escalation_user(self):
        self.ensure_one()
        company = self.company_id
        for user in (company.collection_legal_leader_id, company.collection_user_id):
            if user and user.active and not user.share:
                return user
        return self.env["res.users"]

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def _check_still_open(self, cancelling=False):
        not_open = self.filtered(lambda case: case.state != "open")
        if not_open:
            raise UserError(
                _(
                    "%(cases)s is already closed or cancelled. Only open legal "
                    "cases can be changed.",
                    cases=", ".join(not_open.mapped("display_name")),
                )
            )

    def _get_settlement_limits(self):
        self.ensure_one()
        if self.dispute_id.state == "open":
            return self.dispute_id._get_settlement_limits()
        return {
            item: item.amount_residual_currency
            for item in self.move_line_ids.sudo()
            if not item.reconciled
        }

    def action_close(self):
        """Close the cases with the outcome chosen on each.

        A case opened by a dispute still open closes that dispute with the
        same outcome, which books it once for both.
        """
        self._check_still_open()
        self.check_access("write")
        for case in self:
            case._check_settlement()
            case._check_no_other_dispute()
        for case in self:
            dispute = case.dispute_id
            if dispute.state == "open":
                dispute.sudo().write(case._get_settlement_values())
                # Closing the dispute closes this case too.
                dispute.sudo().action_close()
                continue
            case._book_settlement()
            case._close()
        return True

    def _check_no_other_dispute(self):
        """Raise when the case would credit or write off items under an open
        dispute that the case was not opened for."""
        self.ensure_one()
        if self.outcome not in ("credit_note", "write_off"):
            return
        lines = (
            self.env["collection.dispute.line"]
            .sudo()
            .search(
                [
                    ("move_line_id", "in", self.move_line_ids.ids),
                    ("state", "=", "open"),
                    ("dispute_id", "!=", self.dispute_id.id),
                ]
            )
        )
        if lines:
            raise UserError(
                _(
                    "%(invoices)s of the legal case %(case)s is under the open "
                    "dispute %(disputes)s. Settle or cancel the dispute first, "
                    "then close the case.",
                    invoices=", ".join(lines.move_id.mapped("name")),
                    case=self.name,
                    disputes=", ".join(lines.dispute_id.mapped("name")),
                )
            )

    def _cancel_with_dispute(self, dispute):
        """Cancel the cases of ``dispute``, just cancelled."""
        self.sudo().write(
            {"state": "cancelled", "date_closed": fields.Date.context_today(self)}
        )
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self._post_each(
            lambda case: case.env._(
                "Legal case %(case)s cancelled with its dispute %(dispute)s.",
                case=case.name,
                dispute=dispute.name,
            )
        )

    def _close_with_dispute(self, dispute):
        """Close the cases of ``dispute``, just closed, with its outcome."""
        values = dispute._get_settlement_values()
        values["settlement_move_ids"] = [Command.set(dispute.settlement_move_ids.ids)]
        self.sudo().write(values)
        self._close()

    def _close(self):
        self.sudo().write(
            {"state": "closed", "date_closed": fields.Date.context_today(self)}
        )
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self._post_each(lambda case: case._get_settlement_message())

    def action_cancel(self):
        """Cancel cases opened by mistake. Their items stay in collection."""
        self._check_still_open()
        self.check_access("write")
        self.sudo().write(
            {"state": "cancelled", "date_closed": fields.Date.context_today(self)}
        )
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self._post_each(
            lambda case: case.env._(
                "Legal case %(case)s cancelled as opened by mistake.",
                case=case.name,
            )
        )
        return True

    def action_settle_with_plan(self):
        """Open a new payment plan over the case's open invoices."""
        self.ensure_one()
        self._check_still_open()
        if self.dispute_id.state == "open":
            self.outcome = "plan"
            return self.dispute_id.action_settle_with_plan()
        self.outcome = "plan"
        items = self.move_line_ids.filtered(lambda item: not item.reconciled)
        return self.env["collection.plan"]._action_new_for_lines(items)

    def action_print_evidence(self):
        """Print the evidence pack of the cases."""
        return self.env.ref(
            "fast_collections.action_report_collection_legal_case"
        ).report_action(self)

    # ------------------------------------------------------------------
    # Evidence pack
    # ------------------------------------------------------------------

    def _get_evidence(self):
        """Return what the evidence pack prints: notices, promises, plans,
        payments and disputes about the case's invoices."""
        self.ensure_one()
        # The pack lists everything about these invoices, including records
        # the reader may not access, so it is gathered with full read access.
        items = self.move_line_ids.sudo()
        partner = self.partner_id
        notices = (
            self.env["collection.notice"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("partner_id", "=", partner.id),
                    ("line_ids.move_line_id", "in", items.ids),
                ],
                order="date, id",
            )
        )
        promises = items.collection_promise_ids.sorted(lambda promise: promise.id)
        plans = items.collection_plan_ids.sorted(lambda plan: plan.id)
        disputes = items.collection_dispute_line_ids.dispute_id.sorted(
            lambda dispute: (dispute.date, dispute.id)
        )
        return {
            "items": items.sorted(lambda item: item.date_maturity or item.date),
            "notices": notices,
            "promises": promises,
            "plans": plans,
            "payments": self._get_evidence_payments(items),
            "disputes": disputes,
        }

    def _get_evidence_payments(self, items):
        """Return the payments reconciled with ``items``, oldest first, as
        dicts of date, reference, invoice and amount in the item's currency.

        Credit notes are not payments and are left out.
        """
        payments = []
        for item in items:
            for partial in item.matched_credit_ids:
                counterpart = partial.credit_move_id
                if counterpart.move_id.move_type == "out_refund":
                    continue
                payments.append(
                    {
                        "date": partial.max_date,
                        "reference": counterpart.move_id.name,
                        "invoice": item.move_id.name,
                        "amount": partial.debit_amount_currency,
                        "currency": item.currency_id,
                    }
                )
        return sorted(payments, key=lambda payment: payment["date"])


class AccountMove(models.Model):
    _inherit = "account.move"

    collection_legal_user_ids = fields.Many2many(
        comodel_name="res.users",
        string="Legal Users",
        compute="_compute_collection_legal_user_ids",
        search="_search_collection_legal_user_ids",
        help="Users who may read the entry for a legal case: the lawyers of "
        "the customer's cases in the entry's company, and the company's legal "
        "team leader. Only customer invoices, credit notes and payments count.",
    )

    def _compute_collection_legal_user_ids(self):
        self.env.flush_all()
        self.env.cr.execute(self._get_collection_legal_query(move_ids=tuple(self.ids)))
        legal_moves = self.browse({move_id for (move_id,) in self.env.cr.fetchall()})
        cases = (
            self.env["collection.legal.case"]
            .sudo()
            .search([("partner_id", "in", legal_moves.commercial_partner_id.ids)])
        )
        for move in self:
            if move not in legal_moves:
                move.collection_legal_user_ids = False
                continue
            move_cases = cases.filtered(
                lambda case, move=move: (
                    case.partner_id == move.commercial_partner_id
                    and case.company_id == move.company_id
                )
            )
            move.collection_legal_user_ids = (
                move_cases.user_id | move_cases.company_id.collection_legal_leader_id
            )

    def _search_collection_legal_user_ids(self, operator, value):
        if operator != "in":
            raise UserError(
                _(
                    "Searching Legal Users with the operator %(operator)s is not "
                    "supported. Use in.",
                    operator=operator,
                )
            )
        user_ids = tuple(value) if isinstance(value, list | tuple) else (value,)
        return [("id", "in", self._get_collection_legal_query(user_ids=user_ids))]

    @api.model
    def _get_collection_legal_query(self, user_ids=None, move_ids=None):
        """Return the SQL selecting the customer invoices, credit notes and
        payments of the customers of legal cases in the entries' company,
        of the cases of ``user_ids`` or led by them, or among ``move_ids``."""
        if move_ids is not None:
            condition = SQL("move.id IN %s", move_ids or (0,))
        else:
            condition = SQL(
                "(legal_case.user_id IN %s"
                " OR company.collection_legal_leader_id IN %s)",
                user_ids or (0,),
                user_ids or (0,),
            )
        return SQL(
            """(
            SELECT move.id
              FROM account_move move
              JOIN collection_legal_case legal_case
                ON legal_case.partner_id = move.commercial_partner_id
               AND legal_case.company_id = move.company_id
              JOIN res_company company ON company.id = legal_case.company_id
             WHERE %s
               AND (
                       move.move_type IN ('out_invoice', 'out_refund', 'out_receipt')
                       OR EXISTS (
                           SELECT 1
                             FROM account_payment payment
                            WHERE payment.move_id = move.id
                              AND payment.partner_type = 'customer'
                       )
                   )
            )""",
            condition,
        )
