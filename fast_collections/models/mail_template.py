from odoo import _, api, models
from odoo.exceptions import UserError


class MailTemplate(models.Model):
    _inherit = "mail.template"

    @api.ondelete(at_uninstall=False)
    def _unlink_except_collection_stage(self):
        stages = (
            self.env["collection.stage"]
            .sudo()
            .search([("mail_template_id", "in", self.ids)])
        )
        if stages:
            raise UserError(
                _(
                    "The email template %(template)s is used by the collection "
                    "stages %(stages)s. Choose another template on those stages "
                    "first.",
                    template=stages[0].mail_template_id.name,
                    stages=", ".join(stages.mapped("name")),
                )
            )
