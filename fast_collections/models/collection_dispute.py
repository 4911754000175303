from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import formatLang

from .collection_run import CHASED_MOVE_TYPES


def days_in_dispute(date_opened, date_closed, date_maturity):
    """Return the days of a dispute that fell after the item's due date.

    Days before the due date are not overdue days, so they are not counted.
    """
    start = max(date_opened, date_maturity) if date_maturity else date_opened
    return max((date_closed - start).days, 0)


class CollectionDisputeReason(models.Model):
    """Reason a customer gives for contesting an invoice."""

    _name = "collection.dispute.reason"
    _description = "Dispute Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    resolution_days = fields.Integer(
        string="Days to Resolve",
        required=True,
        default=30,
        help="Days from the opening of a dispute to its resolution deadline.",
    )
    to_legal = fields.Boolean(
        string="Goes to Legal",
        help="Disputes for this reason go straight to the legal team.",
    )
    description = fields.Text(
        translate=True, help="When to use this reason and what evidence to ask for."
    )

    @api.constrains("resolution_days")
    def _check_resolution_days(self):
        for reason in self:
            if reason.resolution_days < 1:
                raise ValidationError(
                    _(
                        "The days to resolve of the dispute reason %(reason)s must "
                        "be at least 1 (%(days)s given).",
                        reason=reason.display_name,
                        days=reason.resolution_days,
                    )
                )


class CollectionDispute(models.Model):
    """Customer's contest of some amounts of its invoices.

    While the dispute is open, the run does not chase the disputed amounts:
    an item disputed for its whole residual is skipped, and an item disputed
    in part is chased for the rest.
    """

    _name = "collection.dispute"
    _description = "Invoice Dispute"
    _inherit = ["collection.case.mixin", "collection.settlement.mixin"]
    _order = "date desc, id desc"
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
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
        index=True,
        help="Commercial partner that owes the disputed items.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
    )
    line_ids = fields.One2many(
        comodel_name="collection.dispute.line",
        inverse_name="dispute_id",
        string="Disputed Items",
        copy=False,
    )
    move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Invoices",
        compute="_compute_move_ids",
        search="_search_move_ids",
    )
    amount_disputed = fields.Monetary(
        string="Disputed Amount",
        compute="_compute_amount_disputed",
        store=True,
        tracking=True,
    )
    reason_id = fields.Many2one(
        comodel_name="collection.dispute.reason",
        required=True,
        tracking=True,
        index=True,
    )
    to_legal = fields.Boolean(
        related="reason_id.to_legal",
        store=True,
        string="Goes to Legal",
    )
    description = fields.Html(
        help="What the customer contests, in their words, and what was checked."
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
        help="User who works the dispute and is reminded of its deadline.",
    )
    date = fields.Date(
        string="Opened On",
        required=True,
        readonly=True,
        default=fields.Date.context_today,
    )
    date_deadline = fields.Date(
        string="Resolution Deadline",
        compute="_compute_date_deadline",
        store=True,
        readonly=False,
        tracking=True,
        index=True,
        help="Opening date plus the reason's days to resolve. It can be moved.",
    )
    date_closed = fields.Date(string="Closed On", readonly=True, copy=False)
    resolution_note = fields.Text(
        string="Resolution", help="What was decided, and why."
    )
    legal_case_ids = fields.One2many(
        comodel_name="collection.legal.case",
        inverse_name="dispute_id",
        string="Legal Cases",
    )
    attachment_ids = fields.Many2many(
        comodel_name="ir.attachment",
        relation="collection_dispute_attachment_rel",
        column1="dispute_id",
        column2="attachment_id",
        string="Evidence",
        help="Documents that support or answer the customer's claim: delivery "
        "notes, photos, emails.",
    )

    @api.depends("line_ids.move_line_id")
    def _compute_partner_currency(self):
        for dispute in self:
            items = dispute.line_ids.move_line_id
            dispute.partner_id = items.partner_id.commercial_partner_id[:1]
            dispute.currency_id = (
                items.currency_id[:1] or dispute.company_id.currency_id
            )

    @api.depends("line_ids.move_id")
    def _compute_move_ids(self):
        for dispute in self:
            dispute.move_ids = dispute.line_ids.move_id

    def _search_move_ids(self, operator, value):
        return [("line_ids.move_id", operator, value)]

    @api.depends("line_ids.amount_disputed")
    def _compute_amount_disputed(self):
        for dispute in self:
            dispute.amount_disputed = sum(dispute.line_ids.mapped("amount_disputed"))

    @api.depends("date", "reason_id")
    def _compute_date_deadline(self):
        # Depends on the reason only, not on its days: changing a reason's days
        # does not move the deadlines of disputes already opened.
        for dispute in self:
            if dispute.date and dispute.reason_id:
                dispute.date_deadline = dispute.date + timedelta(
                    days=dispute.reason_id.resolution_days
                )
            else:
                dispute.date_deadline = dispute.date_deadline or False

    @api.constrains("state", "outcome")
    def _check_outcome(self):
        for dispute in self:
            if dispute.state == "closed" and not dispute.outcome:
                raise ValidationError(
                    _(
                        "The dispute %(dispute)s is closed without an outcome. "
                        "Choose its outcome, for example Rejected.",
                        dispute=dispute.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "collection.dispute"
                ) or _("New")
        disputes = super().create(vals_list)
        for dispute in disputes:
            dispute._check_lines()
        disputes._link_evidence()
        disputes._schedule_deadline_activity()
        disputes._open_legal_cases()
        disputes._post_each(
            lambda dispute: dispute.env._(
                "Dispute %(dispute)s opened for %(reason)s: %(amount)s not chased "
                "until it is settled, deadline %(deadline)s.",
                dispute=dispute.name,
                reason=dispute.reason_id.name,
                amount=dispute._format_amount(dispute.amount_disputed),
                deadline=dispute.date_deadline,
            )
        )
        return disputes

    def write(self, vals):
        if "line_ids" in vals and self.filtered(
            lambda dispute: dispute.state != "open"
        ):
            raise UserError(
                _("The items of a closed or cancelled dispute cannot be changed.")
            )
        result = super().write(vals)
        if {"line_ids", "company_id"} & set(vals):
            for dispute in self:
                dispute._check_lines()
        if "attachment_ids" in vals:
            self._link_evidence()
        if "reason_id" in vals:
            self.filtered(lambda dispute: dispute.state == "open")._open_legal_cases()
        if {"date_deadline", "reason_id"} & set(vals):
            for dispute in self:
                cases = dispute.legal_case_ids.filtered(
                    lambda case, dispute=dispute: (
                        case.state == "open"
                        and case.date_deadline != dispute.date_deadline
                    )
                )
                if cases and dispute.date_deadline:
                    cases.sudo().date_deadline = dispute.date_deadline
        return result

    def _open_legal_cases(self):
        """Hand the disputes whose reason goes to legal over to the legal team,
        one legal case per dispute."""
        to_legal = self.filtered(
            lambda dispute: dispute.to_legal and not dispute.legal_case_ids
        )
        if to_legal:
            self.env["collection.legal.case"].sudo()._create_for_disputes(to_legal)

    def _get_settlement_limits(self):
        self.ensure_one()
        limits = defaultdict(float)
        for line in self.line_ids:
            limits[line.move_line_id] += line.amount_disputed
        return {
            item: min(amount, item.amount_residual_currency)
            for item, amount in limits.items()
            if not item.reconciled
        }

    def _check_lines(self):
        self.ensure_one()
        if not self.line_ids:
            raise ValidationError(
                _(
                    "The dispute %(dispute)s has no invoice. Add the invoices the "
                    "customer contests.",
                    dispute=self.display_name,
                )
            )
        self.env["collection.dispute.line"]._check_items_together(
            self.line_ids.move_line_id, self.company_id
        )

    def _link_evidence(self):
        """Attach the uploaded evidence to the dispute, so that the chatter
        lists it and the dispute's access rules protect it."""
        for dispute in self:
            unlinked = dispute.attachment_ids.filtered(
                lambda attachment: not attachment.res_id
            )
            unlinked.sudo().write({"res_model": self._name, "res_id": dispute.id})

    def _schedule_deadline_activity(self):
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for dispute in self.filtered("user_id"):
            dispute.activity_schedule(
                activity_type_id=activity_type.id,
                summary=_(
                    "Settle the dispute of %(amount)s",
                    amount=dispute._format_amount(dispute.amount_disputed),
                ),
                date_deadline=dispute.date_deadline,
                user_id=dispute.user_id.id,
            )

    def _get_covered_moves(self):
        return self.line_ids.move_line_id.move_id

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    @api.model
    def _action_new_for_lines(self, lines):
        """Return the form of a new dispute over the receivable items ``lines``.

        Each item is proposed for the part of its residual not yet in another
        open dispute.
        """
        line_model = self.env["collection.dispute.line"]
        line_model._check_disputable_items(lines)
        line_model._check_items_together(lines, lines.company_id[:1])
        already_disputed = lines._get_collection_disputed_amounts()
        line_commands = []
        for line in lines:
            undisputed = line.amount_residual_currency - already_disputed.get(
                line.id, 0.0
            )
            if line.currency_id.compare_amounts(undisputed, 0.0) <= 0:
                raise UserError(
                    _(
                        "%(invoice)s is already disputed for its whole amount. "
                        "Leave it out, or change its open dispute.",
                        invoice=line.move_id.display_name,
                    )
                )
            line_commands.append(
                fields.Command.create(
                    {"move_line_id": line.id, "amount_disputed": undisputed}
                )
            )
        collector = self._get_default_collector(lines.partner_id.commercial_partner_id)
        return {
            "type": "ir.actions.act_window",
            "name": _("Dispute"),
            "res_model": "collection.dispute",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {
                "default_line_ids": line_commands,
                "default_company_id": lines.company_id.id,
                "default_user_id": collector.id,
            },
        }

    def _check_still_open(self, cancelling=False):
        not_open = self.filtered(lambda dispute: dispute.state != "open")
        if not not_open:
            return
        disputes = ", ".join(not_open.mapped("display_name"))
        if cancelling:
            message = _(
                "%(disputes)s is already closed or cancelled. Only open disputes "
                "can be cancelled.",
                disputes=disputes,
            )
        else:
            message = _(
                "%(disputes)s is already closed or cancelled. Only open disputes "
                "can be closed.",
                disputes=disputes,
            )
        raise UserError(message)

    def action_reject(self):
        """Close the disputes as rejected: the invoices stand."""
        self._check_still_open()
        self.outcome = "rejected"
        return self.action_close()

    def action_close(self):
        """Close the open disputes with the outcome chosen on each."""
        self._check_still_open()
        without_outcome = self.filtered(lambda dispute: not dispute.outcome)
        if without_outcome:
            raise UserError(
                _(
                    "Choose the outcome of %(disputes)s before closing it.",
                    disputes=", ".join(without_outcome.mapped("display_name")),
                )
            )
        self.check_access("write")
        for dispute in self:
            dispute._check_settlement()
        today = fields.Date.context_today(self)
        for dispute in self:
            # Days are recorded first, because a credit note or a write-off
            # lowers the residual that decides whether the item was disputed
            # in full.
            dispute._record_days_paused(today)
            dispute._book_settlement()
        self.sudo().write({"state": "closed", "date_closed": today})
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self._post_each(lambda dispute: dispute._get_closing_message())
        for dispute in self:
            dispute.legal_case_ids.filtered(
                lambda case: case.state == "open"
            )._close_with_dispute(dispute)
        return True

    def action_settle_with_plan(self):
        """Open a new payment plan over the disputed invoices, to settle the
        dispute by it.

        The dispute's outcome becomes Payment Plan, which lets a plan cover
        its items while it is still open. Close the dispute once the plan is
        proposed.
        """
        self.ensure_one()
        self._check_still_open()
        self.outcome = "plan"
        items = self.line_ids.move_line_id.filtered(lambda item: not item.reconciled)
        return self.env["collection.plan"]._action_new_for_lines(items)

    def action_cancel(self):
        """Cancel disputes opened by mistake.

        The days they were open are not recorded as paused, so they count
        against the customer as if the dispute had never been opened.
        """
        self._check_still_open(cancelling=True)
        self.check_access("write")
        self.sudo().write(
            {"state": "cancelled", "date_closed": fields.Date.context_today(self)}
        )
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self._post_each(
            lambda dispute: dispute.env._(
                "Dispute %(dispute)s cancelled as opened by mistake. Its invoices "
                "are chased again from the next run.",
                dispute=dispute.name,
            )
        )
        for dispute in self:
            dispute.legal_case_ids.filtered(
                lambda case: case.state == "open"
            )._cancel_with_dispute(dispute)
        return True

    def _get_closing_message(self):
        self.ensure_one()
        if self.outcome == "rejected":
            return _(
                "Dispute %(dispute)s rejected: %(amount)s stays owed and its "
                "collection resumes at the stage where it stopped. %(note)s",
                dispute=self.name,
                amount=self._format_amount(self.amount_disputed),
                note=self.resolution_note or "",
            )
        return self._get_settlement_message()

    def _record_days_paused(self, date_closed):
        """Store on the items disputed in full the overdue days the dispute
        lasted, for policies that do not count them.

        An item is disputed in full when its open disputes together cover its
        residual, from the latest of their openings. Once the first of them
        closes, the rest is chased again, so the days are recorded once.
        """
        self.ensure_one()
        items = self.line_ids.move_line_id
        open_lines = (
            self.env["collection.dispute.line"]
            .sudo()
            .search([("move_line_id", "in", items.ids), ("state", "=", "open")])
        )
        for item in items:
            item_lines = open_lines.filtered(
                lambda line, item=item: line.move_line_id == item
            )
            # An item disputed only in part was chased for the rest meanwhile,
            # so its days in dispute count as usual.
            # NOTE: "in full" is judged on the residual at closing, so an item
            # whose undisputed rest was paid during the dispute counts as
            # disputed in full for the whole dispute.
            if (
                item.currency_id.compare_amounts(
                    sum(item_lines.mapped("amount_disputed")),
                    item.amount_residual_currency,
                )
                < 0
            ):
                continue
            start = max(item_lines.dispute_id.mapped("date"))
            days = days_in_dispute(start, date_closed, item.date_maturity)
            self.line_ids.filtered(
                lambda line, item=item: line.move_line_id == item
            ).days_paused = days
            if days:
                item.sudo().collection_days_paused += days


class CollectionDisputeLine(models.Model):
    """Receivable item of an invoice and the part of it under dispute."""

    _name = "collection.dispute.line"
    _description = "Disputed Item"
    _order = "dispute_id, id"

    dispute_id = fields.Many2one(
        comodel_name="collection.dispute",
        required=True,
        ondelete="cascade",
        index=True,
    )
    state = fields.Selection(related="dispute_id.state", store=True)
    company_id = fields.Many2one(
        related="dispute_id.company_id", store=True, index=True
    )
    move_line_id = fields.Many2one(
        comodel_name="account.move.line",
        string="Journal Item",
        required=True,
        index=True,
        ondelete="restrict",
        domain="[('account_id.account_type', '=', 'asset_receivable'), "
        "('move_id.move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('parent_state', '=', 'posted'), ('reconciled', '=', False)]",
    )
    move_id = fields.Many2one(
        related="move_line_id.move_id", store=True, index=True, string="Invoice"
    )
    date_maturity = fields.Date(related="move_line_id.date_maturity", string="Due Date")
    currency_id = fields.Many2one(related="move_line_id.currency_id", store=True)
    amount_residual = fields.Monetary(
        related="move_line_id.amount_residual_currency",
        string="Still Owed",
    )
    amount_disputed = fields.Monetary(
        string="Disputed Amount",
        required=True,
        help="Part of the item's residual the customer contests, in the item's "
        "currency. It is not chased while the dispute is open.",
    )
    days_paused = fields.Integer(
        string="Days Not Counted",
        readonly=True,
        help="Overdue days the dispute lasted, recorded on the item when a "
        "dispute over its whole residual is rejected. Policies that do not "
        "count days in dispute subtract them from the item's delay.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        if lines.dispute_id.filtered(lambda dispute: dispute.state != "open"):
            raise UserError(
                _("The items of a closed or cancelled dispute cannot be changed.")
            )
        return lines

    def write(self, vals):
        if {"move_line_id", "amount_disputed"} & set(vals) and self.filtered(
            lambda line: line.dispute_id.state != "open"
        ):
            raise UserError(
                _("The items of a closed or cancelled dispute cannot be changed.")
            )
        return super().write(vals)

    @api.constrains("move_line_id", "amount_disputed")
    def _check_amount_disputed(self):
        open_lines = self.filtered(lambda line: line.dispute_id.state == "open")
        self._check_disputable_items(open_lines.move_line_id)
        others = open_lines.move_line_id._get_collection_disputed_amounts(
            excluded_dispute_ids=open_lines.dispute_id.ids
        )
        for line in open_lines:
            line._check_amount_within_residual(others.get(line.move_line_id.id, 0.0))

    def _check_amount_within_residual(self, disputed_elsewhere):
        self.ensure_one()
        item = self.move_line_id
        currency = item.currency_id
        invoice = item.move_id.display_name
        if currency.compare_amounts(self.amount_disputed, 0.0) <= 0:
            raise ValidationError(
                _(
                    "The disputed amount of %(invoice)s is %(amount)s. Enter an "
                    "amount greater than zero, at most the %(residual)s still owed.",
                    invoice=invoice,
                    amount=formatLang(
                        self.env, self.amount_disputed, currency_obj=currency
                    ),
                    residual=formatLang(
                        self.env, item.amount_residual_currency, currency_obj=currency
                    ),
                )
            )
        if (
            currency.compare_amounts(
                self.amount_disputed, item.amount_residual_currency
            )
            > 0
        ):
            raise ValidationError(
                _(
                    "The disputed amount %(amount)s of %(invoice)s is more than "
                    "the %(residual)s still owed. Enter at most %(residual)s.",
                    invoice=invoice,
                    amount=formatLang(
                        self.env, self.amount_disputed, currency_obj=currency
                    ),
                    residual=formatLang(
                        self.env, item.amount_residual_currency, currency_obj=currency
                    ),
                )
            )
        # Lines of the same item within this dispute count together.
        same_item = self.dispute_id.line_ids.filtered(
            lambda line: line.move_line_id == item
        )
        total = disputed_elsewhere + sum(same_item.mapped("amount_disputed"))
        if currency.compare_amounts(total, item.amount_residual_currency) > 0:
            left = max(item.amount_residual_currency - disputed_elsewhere, 0.0)
            raise ValidationError(
                _(
                    "%(invoice)s is already disputed for %(other)s in other open "
                    "disputes, and %(amount)s more would exceed the %(residual)s "
                    "still owed. Enter at most %(left)s, or change the other "
                    "disputes.",
                    invoice=invoice,
                    other=formatLang(
                        self.env, disputed_elsewhere, currency_obj=currency
                    ),
                    amount=formatLang(
                        self.env, self.amount_disputed, currency_obj=currency
                    ),
                    residual=formatLang(
                        self.env, item.amount_residual_currency, currency_obj=currency
                    ),
                    left=formatLang(self.env, left, currency_obj=currency),
                )
            )

    @api.model
    def _check_items_together(self, items, company):
        """Raise unless ``items`` are of one customer and currency, in
        ``company``."""
        partners = items.partner_id.commercial_partner_id
        if len(partners) > 1:
            raise UserError(
                _(
                    "The disputed invoices belong to several customers "
                    "(%(customers)s). Open one dispute per customer.",
                    customers=", ".join(partners.mapped("display_name")),
                )
            )
        companies = items.company_id | company
        if len(companies) > 1:
            raise UserError(
                _(
                    "The disputed invoices and the dispute belong to several "
                    "companies (%(companies)s). Open one dispute per company, in "
                    "the company of its invoices.",
                    companies=", ".join(companies.mapped("name")),
                )
            )
        if len(items.currency_id) > 1:
            raise UserError(
                _(
                    "The disputed invoices are in several currencies "
                    "(%(currencies)s). Open one dispute per currency.",
                    currencies=", ".join(items.currency_id.mapped("name")),
                )
            )

    @api.model
    def _check_disputable_items(self, items):
        """Raise unless ``items`` are open receivable items of posted customer
        invoices."""
        if not items:
            raise UserError(_("Select at least one open customer invoice."))
        for item in items:
            move = item.move_id
            if (
                item.account_id.account_type != "asset_receivable"
                or move.move_type not in CHASED_MOVE_TYPES
            ):
                raise UserError(
                    _(
                        "%(entry)s is not a customer invoice. Only the amounts "
                        "owed on customer invoices can be disputed.",
                        entry=move.display_name,
                    )
                )
            if move.state == "cancel":
                raise UserError(
                    _(
                        "%(invoice)s is cancelled, so nothing is owed on it. "
                        "Remove it from the dispute.",
                        invoice=move.display_name,
                    )
                )
            if move.state != "posted":
                raise UserError(
                    _(
                        "%(invoice)s is not posted yet. Post it before disputing it.",
                        invoice=move.display_name,
                    )
                )
            if item.reconciled or item.currency_id.is_zero(
                item.amount_residual_currency
            ):
                raise UserError(
                    _(
                        "%(invoice)s is already paid, so there is nothing left to "
                        "dispute. Remove it from the dispute.",
                        invoice=move.display_name,
                    )
                )


class AccountMove(models.Model):
    _inherit = "account.move"

    def button_draft(self):
        self._check_no_open_dispute()
        return super().button_draft()

    def button_cancel(self):
        self._check_no_open_dispute()
        return super().button_cancel()

    def _check_no_open_dispute(self):
        """Raise when the invoices are under an open dispute, because the
        dispute would then settle amounts no longer owed."""
        lines = (
            self.env["collection.dispute.line"]
            .sudo()
            .search([("move_id", "in", self.ids), ("state", "=", "open")])
        )
        if lines:
            raise UserError(
                _(
                    "%(invoices)s is under the open dispute %(disputes)s. Close "
                    "or cancel the dispute before resetting the invoice to draft "
                    "or cancelling it.",
                    invoices=", ".join(lines.move_id.mapped("display_name")),
                    disputes=", ".join(lines.dispute_id.mapped("name")),
                )
            )
