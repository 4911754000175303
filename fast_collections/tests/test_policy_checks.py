import os

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.modules import get_module_path
from odoo.tests import tagged

from .common import CollectionCommon


@tagged("post_install", "-at_install")
class TestPolicyChecks(CollectionCommon):
    """Invalid policies and stages are rejected with a message naming them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reminder_template = cls.stage_first.mail_template_id
        cls.single_policy = cls.env["collection.policy"].create(
            {
                "name": "Key accounts",
                "stage_ids": [
                    Command.create(
                        {
                            "name": "Personal reminder",
                            "offset_days": 10,
                            "send_email": True,
                            "mail_template_id": cls.reminder_template.id,
                        }
                    )
                ],
            }
        )

    def _stage_values(self, **values):
        """Return the values of a valid email stage at 60 days, updated."""
        return {
            "name": "Late reminder",
            "policy_id": self.policy.id,
            "offset_days": 60,
            "send_email": True,
            "mail_template_id": self.reminder_template.id,
            **values,
        }

    def test_stage_without_action_rejected(self):
        """A stage that takes no action is rejected, naming the stage."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.stage"].create(
                {
                    "name": "Silent stage",
                    "policy_id": self.policy.id,
                    "offset_days": 60,
                }
            )
        self.assertIn("Silent stage", str(caught.exception))

    def test_stage_actions_all_removed_rejected(self):
        """Unticking every action of a stage is rejected, naming the stage."""
        with self.assertRaises(ValidationError) as caught:
            self.stage_first.write({"send_email": False})
        self.assertIn(self.stage_first.name, str(caught.exception))

    def test_same_offset_rejected(self):
        """Two stages of a policy at 7 days are rejected, naming both stages."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.stage"].create(
                self._stage_values(name="Early reminder", offset_days=7)
            )
        message = str(caught.exception)
        self.assertIn("Early reminder", message)
        self.assertIn(self.stage_first.name, message)
        self.assertIn(self.policy.name, message)

    def test_same_offset_in_other_policy_accepted(self):
        """Another policy may have a stage at 7 days too."""
        stage = self.env["collection.stage"].create(
            self._stage_values(policy_id=self.single_policy.id, offset_days=7)
        )
        self.assertEqual(stage.policy_id, self.single_policy)

    def test_policy_without_stages_rejected(self):
        """A policy created without stages is rejected, naming the policy."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.policy"].create({"name": "Empty policy"})
        self.assertIn("Empty policy", str(caught.exception))

    def test_negative_tolerance_rejected(self):
        """A tolerance of -5 is rejected, naming the policy."""
        with self.assertRaises(ValidationError) as caught:
            self.single_policy.tolerance_amount = -5.0
        self.assertIn("Key accounts", str(caught.exception))

    def test_negative_grace_rejected(self):
        """A grace period of -2 days is rejected, naming the policy."""
        with self.assertRaises(ValidationError) as caught:
            self.single_policy.grace_days = -2
        self.assertIn("Key accounts", str(caught.exception))

    def test_template_of_other_model_rejected(self):
        """A template for contacts is rejected, naming it and the stage."""
        partner_template = self.env["mail.template"].create(
            {
                "name": "Contact greeting",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "subject": "Hello",
            }
        )
        with self.assertRaises(ValidationError) as caught:
            self.stage_first.mail_template_id = partner_template
        message = str(caught.exception)
        self.assertIn("Contact greeting", message)
        self.assertIn(self.stage_first.name, message)

    def test_email_stage_without_template_rejected(self):
        """An email stage without a template is rejected, naming the stage."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.stage"].create(
                self._stage_values(name="Blank email", mail_template_id=False)
            )
        self.assertIn("Blank email", str(caught.exception))

    def test_activity_without_type_rejected(self):
        """An activity stage without activity type is rejected, naming it."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.stage"].create(
                self._stage_values(name="Phone call", create_activity=True)
            )
        self.assertIn("Phone call", str(caught.exception))

    def test_named_assignee_without_user_rejected(self):
        """An activity for a named user with no user set is rejected."""
        with self.assertRaises(ValidationError) as caught:
            self.env["collection.stage"].create(
                self._stage_values(
                    name="Call by the head of finance",
                    create_activity=True,
                    activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
                    activity_assignee="user",
                )
            )
        self.assertIn("Call by the head of finance", str(caught.exception))

    def test_delete_last_stage_rejected(self):
        """Deleting the only stage of a policy is rejected, naming the policy."""
        with self.assertRaises(UserError) as caught:
            self.single_policy.stage_ids.unlink()
        self.assertIn("Key accounts", str(caught.exception))

    def test_remove_last_stage_from_policy_rejected(self):
        """Removing the only stage through the policy is rejected too."""
        stage = self.single_policy.stage_ids
        with self.assertRaises(UserError) as caught:
            self.single_policy.stage_ids = [Command.delete(stage.id)]
        self.assertIn("Key accounts", str(caught.exception))

    def test_delete_applied_stage_rejected(self):
        """Deleting a stage already applied to an invoice is rejected, naming it."""
        self.create_invoice(1000, "2024-03-01")
        self.run_collection("2024-03-10")
        self.assertTrue(self.stage_first.history_count)

        with self.assertRaises(UserError) as caught:
            self.stage_first.unlink()
        message = str(caught.exception)
        self.assertIn(self.stage_first.name, message)
        self.assertIn(self.policy.name, message)

    def test_delete_unused_stage_accepted(self):
        """A stage never applied, in a policy with others, can be deleted."""
        stage = self.env["collection.stage"].create(self._stage_values())
        stage.unlink()
        self.assertFalse(stage.exists())

    def test_message_translated_to_spanish(self):
        """The rejection message is in Spanish for a Spanish-speaking user."""
        po_path = os.path.join(get_module_path("fast_collections"), "i18n", "es.po")
        if not os.path.isfile(po_path):
            self.skipTest("the addon has no Spanish translation file i18n/es.po")
        self.env["res.lang"]._activate_lang("es_ES")

        with self.assertRaises(ValidationError) as english:
            self.single_policy.with_context(lang="en_US").tolerance_amount = -5.0
        with self.assertRaises(ValidationError) as spanish:
            self.single_policy.with_context(lang="es_ES").tolerance_amount = -5.0

        self.assertNotEqual(str(spanish.exception), str(english.exception))
