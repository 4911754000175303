from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.collection_penalty import PENALTY_KINDS


class CollectionPenaltyPreview(models.TransientModel):
    """Interest or fees owed on selected invoices, booked once confirmed.

    The lines show what is owed; only their selection counts. Confirming
    computes the charges again on the server, up to the day of confirmation.
    """

    _name = "collection.penalty.preview"
    _description = "Interest and Fee Preview"

    mode = fields.Selection(
        selection=[("interest", "Interest"), ("fee", "Recovery Fees")],
        required=True,
        readonly=True,
    )
    date = fields.Date(
        string="Charged On",
        required=True,
        readonly=True,
        help="Date of the invoices booked and last day of interest charged.",
    )
    line_ids = fields.One2many(
        comodel_name="collection.penalty.preview.line",
        inverse_name="preview_id",
        string="Charges",
    )
    state = fields.Selection(
        selection=[("draft", "To Book"), ("booked", "Booked")],
        required=True,
        default="draft",
        readonly=True,
    )

    @api.model
    def _action_open(self, moves, mode):
        """Compute what ``moves`` owe in interest (``mode`` "interest") or in
        fees ("fee") and open the preview."""
        if not self.env.user.has_group("fast_collections.group_collection_user"):
            raise AccessError(
                _("Only collectors and collections managers charge interest and fees.")
            )
        today = fields.Date.context_today(self)
        lines = self._get_overdue_lines(moves, today, mode)
        values = [
            self._prepare_preview_line(charge)
            for charge in self._compute_charges(lines, mode, today)
        ]
        if not values:
            raise UserError(
                _(
                    "Nothing to charge on %(invoices)s up to %(date)s: it was "
                    "charged already, or no interest or fee applies yet. "
                    "Interest runs from the policy's first day of interest, "
                    "and fees are charged by the stages that set one.",
                    invoices=", ".join(moves.mapped("display_name")),
                    date=fields.Date.to_string(today),
                )
            )
        preview = self.create(
            {
                "mode": mode,
                "date": today,
                "line_ids": [Command.create(line_values) for line_values in values],
            }
        )
        title = (
            _("Compute Penalty Interest")
            if mode == "interest"
            else _("Charge Recovery Fee")
        )
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": self._name,
            "res_id": preview.id,
            "view_mode": "form",
            "target": "new",
        }

    @api.model
    def _compute_charges(self, lines, mode, today):
        if mode == "interest":
            return self._prepare_interest_lines(lines, today)
        return self._prepare_fee_lines(lines)

    @api.model
    def _get_overdue_lines(self, moves, today, mode):
        """Return the items of ``moves`` that owe interest or fees: the
        unpaid ones, and for interest the ones paid after their due date."""
        for move in moves:
            if (
                move.state != "posted"
                or move.move_type not in ("out_invoice", "out_receipt")
                or move.collection_is_penalty
            ):
                raise UserError(
                    _(
                        "%(entry)s is not a posted customer invoice. Interest "
                        "and fees are charged on posted customer invoices only, "
                        "not on other entries nor on interest and fee invoices.",
                        entry=move.display_name,
                    )
                )
        receivables = moves.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        lines = receivables.filtered(lambda line: not line.reconciled)
        if mode == "interest":
            paid_dates = (
                self.env["collection.penalty"].sudo()._get_paid_dates(receivables)
            )
            lines |= receivables.filtered(
                lambda line: (
                    line.id in paid_dates and paid_dates[line.id] > line.date_maturity
                )
            )
        if not lines:
            raise UserError(
                _(
                    "%(invoices)s are paid, so no fee is owed, nor interest "
                    "unless paid after the due date.",
                    invoices=", ".join(moves.mapped("display_name")),
                )
            )
        # Items not yet due are left out. An invoice with no item overdue is
        # refused, because no interest or fee runs on it yet.
        not_due = lines.filtered(
            lambda line: not line.reconciled and line.date_maturity >= today
        )
        lines -= not_due
        not_overdue = not_due.filtered(lambda line: line.move_id not in lines.move_id)
        if not_overdue:
            first_due = not_overdue.sorted("date_maturity")[0]
            raise UserError(
                _(
                    "%(invoice)s is not overdue: it is due on %(date)s, and "
                    "interest and fees run only from the day after the due "
                    "date. Leave it out of the selection.",
                    invoice=first_due.move_id.display_name,
                    date=fields.Date.to_string(first_due.date_maturity),
                )
            )
        return lines.sorted(lambda line: (line.move_id.id, line.date_maturity))

    @api.model
    def _get_line_policy(self, line):
        penalty_model = self.env["collection.penalty"]
        policy = penalty_model._get_policy(line.partner_id, line.company_id)
        if not policy:
            raise UserError(
                _(
                    "%(customer)s has no active collection policy, so no "
                    "interest or fee applies. Set a default policy in the "
                    "Collections settings.",
                    customer=line.partner_id.commercial_partner_id.display_name,
                )
            )
        return policy

    def _prepare_interest_lines(self, lines, today):
        penalty_model = self.env["collection.penalty"].sudo()
        inputs = penalty_model._get_interest_inputs(lines)
        charged = penalty_model._get_charged_interest(lines)
        values = []
        for line in lines:
            policy = self._get_line_policy(line)
            scheme = line.sudo().collection_stage_id.interest_scheme_id or (
                policy.interest_scheme_id
            )
            if not scheme:
                raise UserError(
                    _(
                        "The collection policy %(policy)s of %(customer)s has no "
                        "interest scheme. Choose one on the policy first.",
                        policy=policy.display_name,
                        customer=line.partner_id.commercial_partner_id.display_name,
                    )
                )
            if not scheme.active:
                raise UserError(
                    _(
                        "The interest scheme %(scheme)s is archived, so it "
                        "charges no interest. Choose an active scheme on the "
                        "policy %(policy)s or its stage.",
                        scheme=scheme.name,
                        policy=policy.display_name,
                    )
                )
            charge, result, _overcharged = penalty_model._prepare_interest(
                line, policy, scheme, today, inputs, charged
            )
            if charge and not line.currency_id.is_zero(charge["amount"]):
                values.append(charge)
            elif result.missing_from:
                raise UserError(
                    _(
                        "The interest scheme %(scheme)s has no reference rate "
                        "for %(date)s. Add the rate of that period first.",
                        scheme=scheme.name,
                        date=fields.Date.to_string(result.missing_from),
                    )
                )
        return values

    def _prepare_fee_lines(self, lines):
        penalty_model = self.env["collection.penalty"].sudo()
        item_keys, invoice_keys = penalty_model._get_charged_keys(lines)
        disputed = lines._get_collection_disputed_amounts()
        values = []
        for line in lines:
            policy = self._get_line_policy(line)
            stage = line.sudo().collection_stage_id
            if stage and (line.id, "fee", stage.id) not in item_keys:
                overdue = line.amount_residual_currency - disputed.get(line.id, 0.0)
                fee = penalty_model._prepare_fee(line, stage, overdue)
                if fee:
                    values.append(fee)
            if (
                policy.compensation_enabled
                and (line.move_id.id, "compensation") not in invoice_keys
            ):
                invoice_keys.add((line.move_id.id, "compensation"))
                missing = penalty_model._get_missing_euro_rate(line.move_id)
                if missing:
                    raise UserError(
                        penalty_model._get_missing_euro_rate_message(
                            line.move_id, missing
                        )
                    )
                values.append(penalty_model._prepare_compensation(line))
        return values

    def _prepare_preview_line(self, charge):
        fields_kept = set(self.env["collection.penalty.preview.line"]._fields)
        values = {key: value for key, value in charge.items() if key in fields_kept}
        if charge.get("date_from") and charge.get("date_to"):
            values["days"] = (charge["date_to"] - charge["date_from"]).days + 1
        return values

    def action_confirm(self):
        """Book the selected charges and show the invoices booked.

        Only the selection is taken from the lines: the charges of the
        selected items are computed again up to today, after locking the
        items, so that nothing is charged twice and nothing entered by hand
        in the lines is booked.
        """
        self.ensure_one()
        if self.state == "booked":
            raise UserError(
                _("These charges are already booked. Open the preview again.")
            )
        selected = self.line_ids.filtered("selected")
        if not selected:
            raise UserError(_("Select at least one charge to book."))
        today = fields.Date.context_today(self)
        penalty_model = self.env["collection.penalty"]
        items = selected.move_line_id
        penalty_model.sudo()._lock_items(items)
        keys = {(line.move_line_id.id, line.kind) for line in selected}
        lines = self._get_overdue_lines(items.move_id, today, self.mode) & items
        charges = [
            charge
            for charge in self._compute_charges(lines, self.mode, today)
            if (charge["move_line_id"], charge["kind"]) in keys
        ]
        if not charges:
            raise UserError(
                _(
                    "Nothing is left to charge on the selected lines: it has "
                    "been charged meanwhile."
                )
            )
        self.write({"state": "booked", "date": today})
        invoices = penalty_model._book(charges, today, strict=True)
        if not invoices:
            return {"type": "ir.actions.act_window_close"}
        action = self.env["ir.actions.actions"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = [("id", "in", invoices.ids)]
        action["context"] = {}
        if len(invoices) == 1:
            action["views"] = [(False, "form")]
            action["res_id"] = invoices.id
        return action


class CollectionPenaltyPreviewLine(models.TransientModel):
    """Interest or fee that one overdue item owes."""

    _name = "collection.penalty.preview.line"
    _description = "Interest and Fee Preview Line"

    preview_id = fields.Many2one(
        comodel_name="collection.penalty.preview", required=True, ondelete="cascade"
    )
    selected = fields.Boolean(string="Charge", default=True)
    kind = fields.Selection(selection=PENALTY_KINDS, required=True, readonly=True)
    label = fields.Char(string="Description", readonly=True)
    move_line_id = fields.Many2one(
        comodel_name="account.move.line", required=True, readonly=True
    )
    move_id = fields.Many2one(related="move_line_id.move_id", string="Invoice")
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner", string="Customer", readonly=True
    )
    stage_id = fields.Many2one(comodel_name="collection.stage", readonly=True)
    date_from = fields.Date(string="From", readonly=True)
    date_to = fields.Date(string="To", readonly=True)
    days = fields.Integer(readonly=True)
    detail = fields.Text(string="Periods, Bases and Rates", readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    amount = fields.Monetary(readonly=True)
