from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..rules.aging import DEFAULT_LIMITS, bucket_ranges, parse_limits


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
    collection_portal_promise_days = fields.Integer(
        string="Portal Promise Horizon",
        default=30,
        help="Customers can promise on the portal a payment date at most this "
        "many days ahead. Collectors are not limited.",
    )
    collection_aging_limits = fields.Char(
        string="Aging Buckets",
        default=DEFAULT_LIMITS,
        help="Upper limits of the aging buckets in days overdue, separated by "
        "commas: 30,60,90 gives current, 1-30, 31-60, 61-90 and over 90.",
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

    collection_write_off_account_id = fields.Many2one(
        comodel_name="account.account",
        string="Write-Off Account",
        check_company=True,
        domain="[('account_type', 'in', ('expense', 'income', 'income_other'))]",
        help="Account debited by the credit notes that book the debts written "
        "off after a manager's approval.",
    )
    collection_penalty_product_id = fields.Many2one(
        comodel_name="product.product",
        string="Interest and Fee Product",
        check_company=True,
        help="Product of the lines of the invoices that charge late-payment "
        "interest and recovery fees.",
    )
    collection_penalty_account_id = fields.Many2one(
        comodel_name="account.account",
        string="Interest and Fee Account",
        check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        help="Income account credited by the invoices that charge late-payment "
        "interest and recovery fees.",
    )
    collection_penalty_journal_id = fields.Many2one(
        comodel_name="account.journal",
        string="Interest and Fee Journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        help="Sales journal of the invoices that charge late-payment interest "
        "and recovery fees, numbered in its own sequence. Empty: the first "
        "sales journal of the company. A journal of their own also keeps a "
        "large run fast, because Odoo looks up the last number of the "
        "journal for every invoice it posts.",
    )
    collection_legal_assignment = fields.Selection(
        selection=[
            ("round_robin", "Round Robin"),
            ("least_loaded", "Least Loaded"),
        ],
        string="Legal Case Assignment",
        required=True,
        default="round_robin",
        help="How new legal cases are shared among the Legal users of the "
        "company. Round Robin: each in turn. Least Loaded: the one with the "
        "fewest open cases.",
    )
    collection_legal_leader_id = fields.Many2one(
        comodel_name="res.users",
        string="Legal Team Leader",
        help="Legal user who reassigns legal cases and receives those whose "
        "deadline has passed.",
    )
    collection_legal_days = fields.Integer(
        string="Days to Work a Legal Case",
        default=30,
        help="Days from a stage's hand-over to legal to the deadline of its "
        "legal case. Cases opened by a dispute take the days of its reason.",
    )
    collection_legal_last_user_id = fields.Many2one(
        comodel_name="res.users",
        string="Last Legal Assignee",
        readonly=True,
        help="Legal user who got the last case, where the round robin resumes.",
    )

    @api.constrains("collection_legal_days")
    def _check_collection_legal_days(self):
        for company in self:
            if company.collection_legal_days < 1:
                raise ValidationError(
                    _(
                        "The days to work a legal case of %(company)s must be at "
                        "least 1 (%(days)s given).",
                        company=company.name,
                        days=company.collection_legal_days,
                    )
                )

    @api.constrains("collection_legal_leader_id")
    def _check_collection_legal_leader(self):
        legal_group = "fast_collections.group_collection_legal"
        for company in self.filtered("collection_legal_leader_id"):
            if not company.collection_legal_leader_id.has_group(legal_group):
                raise ValidationError(
                    _(
                        "The legal team leader of %(company)s, %(user)s, is not "
                        "a Legal user. Give them the Legal role first.",
                        company=company.name,
                        user=company.collection_legal_leader_id.name,
                    )
                )

    @api.constrains("collection_portal_promise_days")
    def _check_collection_portal_promise_days(self):
        for company in self:
            if company.collection_portal_promise_days < 1:
                raise ValidationError(
                    _(
                        "Customers of %(company)s must be able to promise at "
                        "least one day ahead on the portal.",
                        company=company.name,
                    )
                )

    @api.constrains("collection_aging_limits")
    def _check_collection_aging_limits(self):
        for company in self:
            try:
                parse_limits(company.collection_aging_limits)
            except ValueError as error:
                raise ValidationError(
                    _(
                        "The aging buckets of %(company)s must be whole numbers "
                        "of days above zero, in increasing order and separated "
                        "by commas, such as 30,60,90.",
                        company=company.name,
                    )
                ) from error

    def _get_collection_aging_limits(self):
        """Return the upper limits of the company's aging buckets in days."""
        self.ensure_one()
        try:
            return parse_limits(self.collection_aging_limits)
        except ValueError:
            return parse_limits(DEFAULT_LIMITS)

    def _get_collection_aging_labels(self):
        """Return the labels of the company's aging buckets, current first."""
        labels = [_("Current")]
        for first, last in bucket_ranges(self._get_collection_aging_limits()):
            if last is None:
                labels.append(_("Over %(days)s", days=first - 1))
            else:
                labels.append(f"{first}-{last}")
        return labels

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

    def _get_collection_penalty_settings_problem(self):
        """Return why interest and fees cannot be booked, or an empty string."""
        self.ensure_one()
        if not self.collection_penalty_product_id:
            return _(
                "%(company)s has no product for interest and fee invoices. Set "
                "one in the Collections settings.",
                company=self.name,
            )
        if not self.collection_penalty_account_id:
            return _(
                "%(company)s has no income account for interest and fee "
                "invoices. Set one in the Collections settings.",
                company=self.name,
            )
        return ""

    def _check_collection_penalty_settings(self):
        problem = self._get_collection_penalty_settings_problem()
        if problem:
            raise UserError(problem)

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
