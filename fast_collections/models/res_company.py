from odoo import api, fields, models


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
