from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    collection_policy_id = fields.Many2one(
        related="company_id.collection_policy_id",
        readonly=False,
    )
    collection_user_id = fields.Many2one(
        related="company_id.collection_user_id",
        readonly=False,
    )
    collection_portal_promise_days = fields.Integer(
        related="company_id.collection_portal_promise_days",
        readonly=False,
    )
    collection_aging_limits = fields.Char(
        related="company_id.collection_aging_limits",
        readonly=False,
    )
    collection_plan_max_instalments = fields.Integer(
        related="company_id.collection_plan_max_instalments",
        readonly=False,
    )
    collection_plan_max_months = fields.Integer(
        related="company_id.collection_plan_max_months",
        readonly=False,
    )
    collection_reduction_account_id = fields.Many2one(
        related="company_id.collection_reduction_account_id",
        readonly=False,
    )
    collection_write_off_account_id = fields.Many2one(
        related="company_id.collection_write_off_account_id",
        readonly=False,
    )
    collection_legal_assignment = fields.Selection(
        related="company_id.collection_legal_assignment",
        readonly=False,
    )
    collection_legal_leader_id = fields.Many2one(
        related="company_id.collection_legal_leader_id",
        readonly=False,
    )
    collection_legal_days = fields.Integer(
        related="company_id.collection_legal_days",
        readonly=False,
    )
    collection_penalty_product_id = fields.Many2one(
        related="company_id.collection_penalty_product_id",
        readonly=False,
    )
    collection_penalty_account_id = fields.Many2one(
        related="company_id.collection_penalty_account_id",
        readonly=False,
    )
    collection_penalty_journal_id = fields.Many2one(
        related="company_id.collection_penalty_journal_id",
        readonly=False,
    )
