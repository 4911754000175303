from odoo import _, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def action_send_collection_statement(self):
        """Open the email composer with the statement template, which attaches
        the customer's statement in the current company."""
        self.ensure_one()
        template = self.env.ref(
            "fast_collections.mail_template_customer_statement",
            raise_if_not_found=False,
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Send Statement"),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_model": self._name,
                "default_res_ids": self.ids,
                "default_composition_mode": "comment",
                "default_template_id": template.id if template else False,
                "force_email": True,
            },
        }
