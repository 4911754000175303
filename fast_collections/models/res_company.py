from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    collection_policy_id = fields.Many2one(
        comodel_name="collection.policy",
        string="Default Collection Policy",
        help="Policy for customers that have none of their own.",
        ondelete="restrict",
    )
    collection_user_id = fields.Many2one(
        comodel_name="res.users",
        string="Default Collector",
        help="Receives the collection activities of customers that have no "
        "collector of their own.",
    )
    collection_plan_max_instalments = fields.Integer(
        string="Instalments Without Approval",
        default=6,
        help="Payment plans with more instalments than this, down payment "
        "excluded, need a collections manager's approval.",
    )
    collection_plan_max_months = fields.Integer(
        string="Months Without Approval",
        default=12,
        help="Payment plans whose last instalment falls more than this many "
        "months after the plan's date need a collections manager's approval.",
    )
    collection_reduction_account_id = fields.Many2one(
        comodel_name="account.account",
        string="Reduction Account",
        check_company=True,
        domain="[('account_type', 'in', ('expense', 'income', 'income_other'))]",
        help="Account debited by the credit notes that book the reductions "
        "granted in payment plans.",
    )

    @api.constrains("collection_plan_max_instalments", "collection_plan_max_months")
    def _check_collection_plan_limits(self):
        for company in self:
            if (
                company.collection_plan_max_instalments < 1
                or company.collection_plan_max_months < 1
            ):
                raise ValidationError(
                    _(
                        "The payment plan limits of %(company)s must be at least "
                        "one instalment and one month.",
                        company=company.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        default_policy = self.env.ref(
            "fast_collections.collection_policy_default", raise_if_not_found=False
        )
        if default_policy:
            companies.filtered(lambda company: not company.collection_policy_id).write(
                {"collection_policy_id": default_policy.id}
            )
        return companies
