from odoo import fields, models


class CollectionPouchStep(models.TransientModel):
    """Note of a collections manager who approves a pouch's counted
    difference, or the deposit of a pouch."""

    _name = "collection.pouch.step"
    _description = "Payment Pouch Step"

    pouch_id = fields.Many2one(comodel_name="collection.pouch", required=True)
    step = fields.Selection(
        selection=[("difference", "Approve Difference"), ("deposit", "Deposit")],
        required=True,
        default="difference",
    )
    currency_id = fields.Many2one(related="pouch_id.currency_id")
    amount_declared = fields.Monetary(related="pouch_id.amount_declared")
    amount_counted = fields.Monetary(related="pouch_id.amount_counted")
    amount_difference = fields.Monetary(related="pouch_id.amount_difference")
    note = fields.Text(help="Why the counted total differs from the declared one.")
    date = fields.Date(string="Deposited On", default=fields.Date.context_today)
    reference = fields.Char(string="Deposit Slip")

    def action_confirm(self):
        self.ensure_one()
        if self.step == "difference":
            self.pouch_id._approve_difference(self.note)
        else:
            self.pouch_id._deposit(self.date, self.reference)
        return {"type": "ir.actions.act_window_close"}
