from odoo import api, fields, models


class CollectionPouchBounce(models.TransientModel):
    """Return of a posted pouch item by the bank, with its reason and costs."""

    _name = "collection.pouch.bounce"
    _description = "Bounced Pouch Item"

    item_id = fields.Many2one(comodel_name="collection.pouch.item", required=True)
    currency_id = fields.Many2one(related="item_id.currency_id")
    date = fields.Date(
        string="Returned On", required=True, default=fields.Date.context_today
    )
    reason = fields.Char(
        required=True, help="Reason the bank gave, such as insufficient funds."
    )
    cost = fields.Monetary(
        string="Return Costs", help="Costs the bank charged for the return."
    )
    charge_cost = fields.Boolean(
        string="Charge Costs to Customer",
        compute="_compute_charge_cost",
        store=True,
        readonly=False,
        help="Book the return costs on an interest and fee invoice of the customer.",
    )

    @api.depends("cost")
    def _compute_charge_cost(self):
        for wizard in self:
            wizard.charge_cost = bool(wizard.cost)

    def action_confirm(self):
        self.ensure_one()
        self.item_id._bounce(self.date, self.reason, self.cost, self.charge_cost)
        return {"type": "ir.actions.act_window_close"}
