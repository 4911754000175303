from odoo import fields, models


class CollectionPlanRefuse(models.TransientModel):
    """Reason given by a collections manager who refuses payment plans."""

    _name = "collection.plan.refuse"
    _description = "Refuse Payment Plan"

    plan_ids = fields.Many2many(
        comodel_name="collection.plan", string="Payment Plans", required=True
    )
    reason = fields.Text(
        required=True, help="Why the plan is refused, posted on the plan and invoices."
    )

    def action_refuse(self):
        self.ensure_one()
        self.plan_ids._refuse(self.reason)
        return {"type": "ir.actions.act_window_close"}
