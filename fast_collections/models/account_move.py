from odoo import fields, models

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
