from odoo import api, fields, models

from ..rules.staging import days_from_due
from .account_move import COLLECTION_GROUPS


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
