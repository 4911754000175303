from datetime import date

from freezegun import freeze_time
from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from .common import CollectionCommon

# Loggers that record an access refused by an access right or a record rule.
ACCESS_LOGGERS = (
    "odoo.addons.base.models.ir_model",
    "odoo.addons.base.models.ir_rule",
    "odoo.models",
)

# Collection columns of the worklist, read besides the fields of its list view.
WORKLIST_FIELDS = [
    "move_id",
    "partner_id",
    "date_maturity",
    "amount_residual",
    "amount_residual_currency",
    "collection_stage_id",
    "collection_stage_date",
    "collection_days_overdue",
    "collection_reach_issue",
    "collection_user_id",
]


@tagged("post_install", "-at_install")
class TestAccessRights(CollectionCommon):
    """What a collector, a collections manager and a salesperson may do.

    The customer owes 1,000 due 15 January 2024. The run of 10 March, 55 days
    later, sends the formal notice: an email, a letter to print and a call
    for the customer's collector.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            login="carla.collector",
            name="Carla Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.other_collector = new_test_user(
            cls.env,
            login="colin.collector",
            name="Colin Collector",
            groups="base.group_user,fast_collections.group_collection_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.manager = new_test_user(
            cls.env,
            login="mona.manager",
            name="Mona Manager",
            groups="base.group_user,fast_collections.group_collection_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.salesperson = new_test_user(
            cls.env,
            login="sam.sales",
            name="Sam Sales",
            groups="base.group_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.customer.collection_user_id = cls.collector
        cls.invoice = cls.create_invoice(1000, "2024-01-15")
        with freeze_time("2024-03-10"):
            cls.collection_run = cls.env["collection.run"]._run_collections(
                run_date=date(2024, 3, 10), companies=cls.company
            )
        cls.notice = cls.collection_run.notice_ids
        cls.history = cls.invoice.collection_history_ids

    def _view_field_names(self, model, view_id, view_type):
        """Return the fields that the web client reads for a view of ``model``.

        They are the fields of the view itself, as loaded by the user of
        ``model``, without those of the lists and forms of its x2many fields.
        """
        views = model.get_views([(view_id, view_type)])
        arch = etree.fromstring(views["views"][view_type]["arch"])
        return {
            node.get("name")
            for node in arch.iter("field")
            if not any(parent.tag == "field" for parent in node.iterancestors())
        }

    def _open_customer_form(self, user):
        """Load the customer form as ``user`` and read its fields."""
        partner_model = self.env["res.partner"].with_user(user)
        field_names = self._view_field_names(partner_model, False, "form")
        specification = {name: {} for name in field_names}
        return partner_model.browse(self.customer.id).web_read(specification)

    # ------------------------------------------------------------------
    # Collector
    # ------------------------------------------------------------------

    def test_formal_notice_set_up(self):
        """The run made one formal notice with a letter and a call."""
        self.assertEqual(self.notice.stage_id, self.stage_formal)
        self.assertEqual(self.notice.letter_state, "to_print")
        self.assertEqual(self.notice.activity_ids.user_id, self.collector)

    @freeze_time("2024-03-10")
    def test_collector_opens_worklist(self):
        """The collector reads the worklist with its domain and its columns."""
        action = self.env.ref("fast_collections.collection_item_action")
        list_view_id = next(
            (view_id for view_id, view_type in action.views if view_type == "list"),
            False,
        )
        item_model = self.env["account.move.line"].with_user(self.collector)
        field_names = self._view_field_names(item_model, list_view_id, "list")
        domain = safe_eval(action.domain or "[]", {"uid": self.collector.id})

        rows = item_model.search_read(
            domain, sorted(field_names | set(WORKLIST_FIELDS))
        )

        item = self.receivable_lines(self.invoice)
        row = next((row for row in rows if row["id"] == item.id), None)
        self.assertTrue(row)
        self.assertEqual(row["collection_stage_id"][0], self.stage_formal.id)
        self.assertEqual(row["collection_days_overdue"], 55)

    def test_collector_opens_customer_form(self):
        """The collector opens the customer form without an access error."""
        values = self._open_customer_form(self.collector)
        self.assertEqual(values[0]["name"], "Acme Debtor")

    @freeze_time("2024-03-10")
    def test_collector_reads_customer_totals(self):
        """The collector reads the customer's 1,000 overdue and its stage."""
        values = self.customer.with_user(self.collector).read(
            [
                "collection_amount_due",
                "collection_amount_overdue",
                "collection_max_days_overdue",
                "collection_stage_id",
                "collection_user_id",
                "collection_credit_hold",
            ]
        )[0]
        self.assertEqual(values["collection_amount_due"], 1000.0)
        self.assertEqual(values["collection_amount_overdue"], 1000.0)
        self.assertEqual(values["collection_max_days_overdue"], 55)
        self.assertEqual(values["collection_stage_id"][0], self.stage_formal.id)
        self.assertEqual(values["collection_user_id"][0], self.collector.id)
        self.assertTrue(values["collection_credit_hold"])

    def test_collector_sets_hold(self):
        """The collector sets a date not to chase before, with its reason."""
        self.customer.with_user(self.collector).write(
            {
                "collection_hold_until": "2024-03-31",
                "collection_hold_reason": "Payment run of the customer on 31 March",
            }
        )
        self.assertEqual(self.customer.collection_hold_until, date(2024, 3, 31))
        self.assertEqual(
            self.customer.collection_hold_reason,
            "Payment run of the customer on 31 March",
        )

    def test_collector_assigns_collector(self):
        """The collector hands the customer over to another collector."""
        self.customer.with_user(self.collector).write(
            {"collection_user_id": self.other_collector.id}
        )
        self.assertEqual(self.customer.collection_user_id, self.other_collector)

    def test_collector_reads_notice(self):
        """The collector reads the notice and the items it lists."""
        notice = self.notice.with_user(self.collector)
        values = notice.read(
            ["display_name", "email_state", "letter_state", "line_ids"]
        )[0]
        self.assertEqual(values["email_state"], "sent")
        lines = notice.line_ids.read(["amount_residual", "days_overdue"])
        self.assertEqual(lines[0]["amount_residual"], 1000.0)
        self.assertEqual(lines[0]["days_overdue"], 55)

    def test_collector_reads_history(self):
        """The collector reads the invoice's stage history."""
        history = self.history.with_user(self.collector)
        values = history.read(["stage_id", "state", "amount_residual"])
        self.assertEqual(
            {row["stage_id"][0] for row in values if row["state"] == "done"},
            {self.stage_formal.id},
        )

    def test_collector_reads_runs(self):
        """The collector reads the run that made the notice."""
        run = self.collection_run.with_user(self.collector)
        self.assertEqual(run.read(["notice_count"])[0]["notice_count"], 1)

    def test_collector_marks_letter_printed(self):
        """The collector marks the notice's letter as printed."""
        self.notice.with_user(self.collector).action_mark_printed()
        self.assertEqual(self.notice.letter_state, "printed")

    def test_collector_marks_activity_done(self):
        """The collector marks the call of the formal notice as done."""
        activity = self.notice.activity_ids
        activity.with_user(self.collector).action_feedback(
            feedback="Customer promises to pay on 20 March"
        )
        self.assertFalse(activity.exists())
        self.assertFalse(self.notice.activity_ids)

    def test_collector_renders_letter(self):
        """The collector renders the letter of the notice."""
        html, __ = (
            self.env["ir.actions.report"]
            .with_user(self.collector)
            ._render_qweb_html(
                "fast_collections.action_report_collection_notice", self.notice.ids
            )
        )
        self.assertIn(b"Acme Debtor", html)
        self.assertIn(b"1,000.00", html)

    @mute_logger(*ACCESS_LOGGERS)
    def test_collector_cannot_approve(self):
        """A collector who approves a stage change gets an AccessError."""
        self.policy.require_approval = True
        invoice = self.create_invoice(400, "2024-03-01")
        with freeze_time("2024-03-10"):
            self.run_collection("2024-03-10")
        waiting = invoice.collection_history_ids.filtered(
            lambda history: history.state == "to_approve"
        )
        self.assertTrue(waiting)

        with self.assertRaises(AccessError):
            waiting.with_user(self.collector).action_approve()

    @mute_logger(*ACCESS_LOGGERS)
    def test_collector_cannot_run_for_all(self):
        """A collector who runs the collection of all customers gets an
        AccessError."""
        run_model = self.env["collection.run"].with_user(self.collector)
        with self.assertRaises(AccessError):
            run_model.action_run_now()

    @mute_logger(*ACCESS_LOGGERS)
    def test_collector_cannot_run_for_customer(self):
        """A collector who runs the collection of one customer gets an
        AccessError."""
        with self.assertRaises(AccessError):
            self.customer.with_user(self.collector).action_collection_run_now()

    @mute_logger(*ACCESS_LOGGERS)
    def test_collector_cannot_edit_policy(self):
        """A collector who changes a policy gets an AccessError."""
        with self.assertRaises(AccessError):
            self.policy.with_user(self.collector).write({"grace_days": 5})

    @mute_logger(*ACCESS_LOGGERS)
    def test_collector_cannot_add_stage(self):
        """A collector who adds a stage to a policy gets an AccessError."""
        stage_model = self.env["collection.stage"].with_user(self.collector)
        with self.assertRaises(AccessError):
            stage_model.create(
                {
                    "name": "Extra reminder",
                    "policy_id": self.policy.id,
                    "offset_days": 14,
                    "send_email": True,
                    "mail_template_id": self.stage_first.mail_template_id.id,
                }
            )

    # ------------------------------------------------------------------
    # Manager
    # ------------------------------------------------------------------

    @freeze_time("2024-03-10")
    def test_manager_runs_for_all(self):
        """A manager runs the collection of the company and gets its run back."""
        action = self.env["collection.run"].with_user(self.manager).action_run_now()
        runs = self.env["collection.run"].search(action["domain"])
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs.company_id, self.company)
        self.assertEqual(runs.user_id, self.manager)
        self.assertEqual(runs.state, "done")

    @freeze_time("2024-03-10")
    def test_manager_approves(self):
        """A manager's approval releases the stage change and sends its notice."""
        self.policy.require_approval = True
        customer = self.env["res.partner"].create(
            {"name": "Waiting Buyer", "email": "ap@waiting-buyer.example.com"}
        )
        invoice = self.create_invoice(400, "2024-03-01", partner=customer)
        self.run_collection("2024-03-10", partners=customer)
        waiting = invoice.collection_history_ids.filtered(
            lambda history: history.state == "to_approve"
        )

        waiting.with_user(self.manager).action_approve()

        self.assertEqual(waiting.state, "done")
        self.assertEqual(waiting.approved_by_id, self.manager)
        self.assertEqual(len(self.notices_of(customer)), 1)

    # ------------------------------------------------------------------
    # Salesperson
    # ------------------------------------------------------------------

    def test_salesperson_opens_customer_form(self):
        """A salesperson opens the customer form without an access error."""
        values = self._open_customer_form(self.salesperson)
        self.assertEqual(values[0]["name"], "Acme Debtor")

    def test_salesperson_form_has_no_collection_field(self):
        """The customer form loaded by a salesperson contains no collection field."""
        values = self._open_customer_form(self.salesperson)
        self.assertFalse([name for name in values[0] if name.startswith("collection_")])

    def test_salesperson_reads_customer(self):
        """A salesperson reads the customer's ordinary fields."""
        values = self.customer.with_user(self.salesperson).read(["name", "email"])
        self.assertEqual(values[0]["email"], "accounts@acme-debtor.example.com")

    @mute_logger(*ACCESS_LOGGERS)
    def test_salesperson_cannot_read_collection_fields(self):
        """A salesperson who reads any collection field gets an AccessError."""
        customer = self.customer.with_user(self.salesperson)
        collection_fields = [
            name for name in customer._fields if name.startswith("collection_")
        ]
        self.assertIn("collection_amount_due", collection_fields)
        for field_name in collection_fields:
            with self.subTest(field=field_name):
                with self.assertRaises(AccessError):
                    customer.read([field_name])

    @mute_logger(*ACCESS_LOGGERS)
    def test_salesperson_cannot_read_notices(self):
        """A salesperson who lists or reads notices gets an AccessError."""
        with self.assertRaises(AccessError):
            self.env["collection.notice"].with_user(self.salesperson).search([])
        with self.assertRaises(AccessError):
            self.notice.with_user(self.salesperson).read(["display_name"])

    @mute_logger(*ACCESS_LOGGERS)
    def test_salesperson_cannot_read_history(self):
        """A salesperson who lists stage history gets an AccessError."""
        with self.assertRaises(AccessError):
            self.env["collection.history"].with_user(self.salesperson).search([])

    @mute_logger(*ACCESS_LOGGERS)
    def test_salesperson_cannot_read_runs(self):
        """A salesperson who lists collection runs gets an AccessError."""
        with self.assertRaises(AccessError):
            self.env["collection.run"].with_user(self.salesperson).search([])
