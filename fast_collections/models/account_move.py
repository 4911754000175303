from odoo import Command, _, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

COLLECTION_GROUPS = (
    "fast_collections.group_collection_user,fast_collections.group_collection_legal"
)


class AccountMove(models.Model):
    _inherit = "account.move"

    # Highest stage of the invoice's receivable items, written in bulk by the
    # collection run together with the items' stages.
    collection_stage_id = fields.Many2one(
        comodel_name="collection.stage",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups=COLLECTION_GROUPS,
    )
    collection_history_ids = fields.One2many(
        comodel_name="collection.history",
        inverse_name="move_id",
        groups=COLLECTION_GROUPS,
    )
    collection_promise_count = fields.Integer(
        string="Promises to Pay",
        compute="_compute_collection_negotiation_counts",
        groups=COLLECTION_GROUPS,
    )
    collection_plan_count = fields.Integer(
        string="Payment Plans",
        compute="_compute_collection_negotiation_counts",
        groups=COLLECTION_GROUPS,
    )
    collection_dispute_count = fields.Integer(
        string="Disputes",
        compute="_compute_collection_dispute_count",
        groups=COLLECTION_GROUPS,
    )
    collection_is_penalty = fields.Boolean(
        string="Interest and Fees",
        readonly=True,
        copy=False,
        help="Invoice or credit note of late-payment interest and recovery fees "
        "booked by the collection. No interest is charged on it in turn.",
    )
    collection_penalty_ids = fields.One2many(
        comodel_name="collection.penalty",
        inverse_name="penalty_move_id",
        string="Interest and Fees Charged",
        groups=COLLECTION_GROUPS,
    )

    def _check_collection_penalty_kept(self):
        """Raise when one of the moves is a posted interest and fee invoice or
        waiver credit note, or the entry of a pouch item's payment.

        Interest and fees are waived through a credit note that records who
        waived them and why, and both stay as booked. A pouch item's payment
        changes only through a bounce, which reverses it as superuser.
        """
        if self.env.su:
            return
        self.origin_payment_id._check_collection_pouch_kept()
        penalties = self.filtered(
            lambda move: move.collection_is_penalty and move.state == "posted"
        )
        if penalties:
            raise UserError(
                _(
                    "%(moves)s charges or waives interest or fees, and stays as "
                    "booked. Use Waive Interest and Fees, which books the "
                    "credit note and records who waived them and why.",
                    moves=", ".join(penalties.mapped("name")),
                )
            )

    def button_draft(self):
        self._check_collection_penalty_kept()
        return super().button_draft()

    def button_cancel(self):
        self._check_collection_penalty_kept()
        return super().button_cancel()

    def _reverse_moves(self, default_values_list=None, cancel=False):
        self._check_collection_penalty_kept()
        return super()._reverse_moves(default_values_list, cancel=cancel)

    def _compute_collection_negotiation_counts(self):
        promise_counts = self._count_collection_records(
            "collection_promise", "promise_id"
        )
        plan_counts = self._count_collection_records("collection_plan", "plan_id")
        for move in self:
            move.collection_promise_count = promise_counts.get(move.id, 0)
            move.collection_plan_count = plan_counts.get(move.id, 0)

    def _compute_collection_dispute_count(self):
        counts = dict(
            self.env["collection.dispute.line"]._read_group(
                [("move_id", "in", self.ids)],
                ["move_id"],
                ["dispute_id:count_distinct"],
            )
        )
        for move in self:
            move.collection_dispute_count = counts.get(move, 0)

    def _count_collection_records(self, table, column):
        """Return {invoice id: number of promises or plans covering its items}."""
        move_ids = tuple(self.ids)
        if not move_ids:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.move_id, COUNT(DISTINCT rel.%(column)s)
                  FROM %(relation)s rel
                  JOIN account_move_line aml ON aml.id = rel.move_line_id
                  JOIN %(table)s record ON record.id = rel.%(column)s
                 WHERE aml.move_id IN %(move_ids)s
                   AND record.company_id IN %(company_ids)s
              GROUP BY aml.move_id
                """,
                column=SQL.identifier(column),
                relation=SQL.identifier(f"{table}_move_line_rel"),
                table=SQL.identifier(table),
                move_ids=move_ids,
                company_ids=tuple(self.env.companies.ids),
            )
        )
        return dict(self.env.cr.fetchall())

    def _get_collection_open_lines(self):
        """Return the open receivable items of these posted customer invoices."""
        lines = self.filtered(
            lambda move: (
                move.state == "posted"
                and move.move_type in ("out_invoice", "out_receipt")
            )
        ).line_ids.filtered(
            lambda line: (
                line.account_id.account_type == "asset_receivable"
                and not line.reconciled
            )
        )
        if not lines:
            raise UserError(
                _(
                    "None of the selected entries is a posted customer invoice "
                    "with an amount still owed."
                )
            )
        return lines

    def action_collection_promise(self):
        """Open a new promise to pay over the open items of these invoices."""
        lines = self._get_collection_open_lines()
        return self.env["collection.promise"]._action_new_for_lines(lines)

    def action_collection_plan(self):
        """Open a new payment plan over the open items of these invoices."""
        lines = self._get_collection_open_lines()
        return self.env["collection.plan"]._action_new_for_lines(lines)

    def action_collection_dispute(self):
        """Open a new dispute over the open items of these customer invoices."""
        for move in self:
            if move.move_type not in ("out_invoice", "out_receipt"):
                raise UserError(
                    _(
                        "%(entry)s is not a customer invoice. Only customer "
                        "invoices can be disputed.",
                        entry=move.display_name,
                    )
                )
            if move.state != "posted":
                raise UserError(
                    _(
                        "%(invoice)s is not posted (it is %(state)s). Only posted "
                        "invoices can be disputed.",
                        invoice=move.display_name,
                        state=dict(
                            move._fields["state"]._description_selection(self.env)
                        )[move.state],
                    )
                )
        lines = self.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        # Instalments already paid are left out, unless all of them are paid:
        # then the check below names the paid invoice.
        lines = lines.filtered(lambda line: not line.reconciled) or lines
        return self.env["collection.dispute"]._action_new_for_lines(lines)

    def action_view_collection_disputes(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_dispute_action"
        )
        action["domain"] = [("line_ids.move_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_collection_promises(self):
        return self._action_view_collection_records("collection.promise")

    def action_view_collection_plans(self):
        return self._action_view_collection_records("collection.plan")

    def _action_view_collection_records(self, model):
        self.ensure_one()
        action_xmlid = {
            "collection.promise": "fast_collections.collection_promise_action",
            "collection.plan": "fast_collections.collection_plan_action",
        }[model]
        action = self.env["ir.actions.actions"]._for_xml_id(action_xmlid)
        action["domain"] = [("move_line_ids.move_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_collection_penalty_interest(self):
        """Open the preview of the interest owed on these invoices."""
        return self.env["collection.penalty.preview"]._action_open(self, "interest")

    def action_collection_penalty_fee(self):
        """Open the preview of the recovery fees owed on these invoices."""
        return self.env["collection.penalty.preview"]._action_open(self, "fee")

    def action_collection_waive_penalties(self):
        """Open the waiver of these interest and fee invoices."""
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(
                _("Only a collections manager can waive interest and fees.")
            )
        return {
            "type": "ir.actions.act_window",
            "name": _("Waive Interest and Fees"),
            "res_model": "collection.penalty.waive",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_ids": [Command.set(self.ids)]},
        }
