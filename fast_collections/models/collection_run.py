import logging
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

import pytz
from psycopg2.errors import SerializationFailure

import odoo
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, float_compare, mute_logger

from ..rules.staging import CATCHUP_CLIMB, days_from_due, decide_stage

_logger = logging.getLogger(__name__)

# Customers per batch. A batch decides the stages of its customers, sends
# their notices, charges their interest and fees and hands their items over to
# legal in one transaction, so an interrupted run loses at most one batch.
RUN_BATCH_SIZE = 500
# Seconds after which queue_job retries a closing job that lost the race to
# close the run.
CLOSE_RETRY_SECONDS = 5
# Items decided at a time and customers notified at a time within a batch.
# Both bound the memory a batch needs.
DECIDE_BATCH_SIZE = 5000
ACT_BATCH_SIZE = 200

# Run counters that are the sum of the counters of the run's batches.
BATCH_COUNT_FIELDS = (
    "item_count",
    "changed_count",
    "skipped_count",
    "notice_count",
    "message_count",
    "letter_count",
    "activity_count",
    "not_reached_count",
    "legal_case_count",
    "penalty_move_count",
    "penalty_amount",
)


# First key of the PostgreSQL advisory lock that lets one run at a time work
# on a company; the second key is the company id.
RUN_LOCK_KEY = 58_214_001

# Receivable items of customer invoices. Exchange-difference entries and
# miscellaneous entries are of move type "entry" and are never chased.
CHASED_MOVE_TYPES = ("out_invoice", "out_receipt")


class _DecideSettings(NamedTuple):
    """A policy's settings that deciding an item's stage reads."""

    policy_id: int
    tolerance: float
    catchup_rule: str
    dispute_days_excluded: bool
    grace_days: int
    state: str
    steps: list


# Open receivable items of customer invoices of a company, due by a horizon.
# Parameters: company_id, move_types, horizon.
OPEN_ITEMS_FROM_WHERE = """
      FROM account_move_line aml
      JOIN account_move move ON move.id = aml.move_id
      JOIN account_account account ON account.id = aml.account_id
      JOIN res_partner partner ON partner.id = aml.partner_id
     WHERE aml.company_id = %(company_id)s
       AND aml.parent_state = 'posted'
       AND account.account_type = 'asset_receivable'
       AND move.move_type IN %(move_types)s
       AND aml.reconciled IS NOT TRUE
       AND aml.amount_residual_currency > 0
       AND aml.date_maturity <= %(horizon)s
"""

# Items paid in full after their due date that may owe interest up to their
# final payment: see collection.run._get_paid_late_line_ids.
# Parameters: company_id, move_types, run_date.
PAID_LATE_ITEMS_FROM_WHERE = """
      FROM account_move_line aml
      JOIN account_move move ON move.id = aml.move_id
      JOIN account_account account ON account.id = aml.account_id
      JOIN res_partner partner ON partner.id = aml.partner_id
      JOIN collection_stage stage ON stage.id = aml.collection_stage_id
      JOIN LATERAL (
            SELECT MAX(partial.max_date) AS paid_on,
                   MAX(partial.id) AS last_partial_id
              FROM account_partial_reconcile partial
             WHERE partial.debit_move_id = aml.id
           ) payment ON TRUE
      LEFT JOIN LATERAL (
            SELECT COALESCE(MAX(penalty.last_partial_id), 0)
                   AS last_partial_id
              FROM collection_penalty penalty
             WHERE penalty.move_line_id = aml.id
               AND penalty.kind = 'interest'
            HAVING COUNT(*) > 0
           ) charged ON TRUE
     WHERE aml.company_id = %(company_id)s
       AND aml.parent_state = 'posted'
       AND account.account_type = 'asset_receivable'
       AND move.move_type IN %(move_types)s
       AND move.collection_is_penalty IS NOT TRUE
       AND aml.reconciled IS TRUE
       AND (stage.charge_interest IS TRUE
            OR charged.last_partial_id IS NOT NULL
            OR EXISTS (
                   SELECT 1
                     FROM collection_history history
                     JOIN collection_stage passed
                       ON passed.id = history.stage_id
                    WHERE history.move_line_id = aml.id
                      AND passed.charge_interest IS TRUE
               ))
       AND payment.paid_on > aml.date_maturity
       AND (charged.last_partial_id IS NULL
            OR payment.last_partial_id > charged.last_partial_id)
       AND payment.paid_on <= %(run_date)s
       AND EXISTS (
               SELECT 1
                 FROM collection_history history
                WHERE history.move_line_id = aml.id
                  AND history.stage_id = aml.collection_stage_id
                  AND history.state IN ('done', 'not_reached')
           )
"""


def add_batch_counts(first, second):
    """Return the sum of two sets of batch counts as _process_customers
    returns them; either may be None."""
    result = {name: 0 for name in BATCH_COUNT_FIELDS}
    result.update(step_timings={}, skip_counts={})
    for counts in (first, second):
        if not counts:
            continue
        for name in BATCH_COUNT_FIELDS:
            result[name] += counts.get(name) or 0
        result["skip_counts"] = dict(
            Counter(result["skip_counts"]) + Counter(counts.get("skip_counts") or {})
        )
        for step, timing in (counts.get("step_timings") or {}).items():
            total = result["step_timings"].setdefault(
                step, {"seconds": 0.0, "queries": 0}
            )
            total["seconds"] = round(total["seconds"] + timing["seconds"], 3)
            total["queries"] += timing["queries"]
    return result


class CollectionRun(models.Model):
    """Record of one collection run of a company: what was evaluated and done."""

    _name = "collection.run"
    _inherit = ["collection.run.counters"]
    _description = "Collection Run"
    _order = "date_start desc, id desc"

    name = fields.Char(compute="_compute_name")
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    run_date = fields.Date(
        required=True,
        readonly=True,
        help="Date the run collected for: today in the company's time zone.",
    )
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    state = fields.Selection(
        selection=[
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("interrupted", "Interrupted"),
        ],
        required=True,
        default="running",
        readonly=True,
    )
    user_id = fields.Many2one(
        comodel_name="res.users", string="Started By", readonly=True
    )
    partner_ids = fields.Many2many(
        comodel_name="res.partner",
        string="Customers",
        readonly=True,
        help="Customers the run was limited to. Empty when it covered all.",
    )
    skip_summary = fields.Text(string="Skipped Items", compute="_compute_skip_summary")
    promise_kept_count = fields.Integer(string="Promises Kept", readonly=True)
    promise_broken_count = fields.Integer(string="Promises Broken", readonly=True)
    plan_completed_count = fields.Integer(string="Plans Completed", readonly=True)
    plan_broken_count = fields.Integer(string="Plans Broken", readonly=True)
    legal_escalated_count = fields.Integer(
        string="Legal Cases Escalated", readonly=True
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    error_message = fields.Text(readonly=True)
    notice_ids = fields.One2many(
        comodel_name="collection.notice", inverse_name="run_id", string="Notices"
    )
    history_ids = fields.One2many(
        comodel_name="collection.history",
        inverse_name="run_id",
        string="Stage Changes",
    )
    date_planned = fields.Datetime(
        string="Batches Planned",
        readonly=True,
        help="When the company-wide steps (promises, plans, pouch instruments "
        "that matured) ended and the customers were split into batches. A "
        "resumed run does not repeat them.",
    )
    attempt_ids = fields.One2many(
        comodel_name="collection.run.attempt", inverse_name="run_id", string="Attempts"
    )
    attempt_count = fields.Integer(
        string="Number of Attempts", compute="_compute_attempt_count"
    )
    batch_ids = fields.One2many(
        comodel_name="collection.run.batch", inverse_name="run_id", string="Batches"
    )

    @api.depends("company_id", "run_date")
    def _compute_name(self):
        for run in self:
            run.name = _(
                "%(company)s, %(date)s",
                company=run.company_id.name,
                date=run.run_date and fields.Date.to_string(run.run_date),
            )

    @api.depends("attempt_ids")
    def _compute_attempt_count(self):
        for run in self:
            run.attempt_count = len(run.attempt_ids)

    @api.depends("skip_counts")
    def _compute_skip_summary(self):
        # Built at read time so that the reasons are in the reader's language.
        labels = self._get_skip_reason_labels()
        for run in self:
            lines = []
            for reason, count in sorted((run.skip_counts or {}).items()):
                lines.append(f"{labels.get(reason, reason)}: {count}")
            run.skip_summary = "\n".join(lines)

    def _get_skip_reason_labels(self):
        return {
            "below_tolerance": _("below the policy's tolerance"),
            "on_hold": _("customer not to be chased until a later date"),
            "no_policy": _("no active collection policy for the customer or company"),
            "to_approve": _("stage change waiting for a manager's approval"),
            "promise": _("covered by an open promise to pay"),
            "plan": _("covered by an active payment plan"),
            "pouch": _("paid in full by pouch instruments pending maturity"),
            "dispute": _("disputed for its whole amount"),
            "legal_claim": _("legal claim filed, out of automatic collection"),
        }

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _cron_run_collections(self):
        # With the queue_job addon installed, job workers on any server do the
        # batches. Without it, the scheduled action does them itself.
        if self._is_job_queue_installed():
            self._enqueue_collections()
        else:
            self._run_collections()

    def action_run_now(self):
        """Run the collection of every company of the user now."""
        # TODO: the run happens inside the web request, so a large company may
        # not finish before the request times out. The scheduled run has no
        # such limit.
        self._check_manager()
        runs = self._run_collections(companies=self.env.companies)
        return self._action_show_runs(runs)

    @api.model
    def _run_collections(self, run_date=None, companies=None, partners=None):
        """Run the collection for each company and return the runs made.

        ``run_date`` defaults to today in each company's time zone.
        ``partners`` limits the run to those customers (their commercial
        partners). The last run of the same company and date resumes as a new
        attempt when it did not end. The run commits after every batch, except
        in tests and while the module is being installed.
        """
        if companies is None:
            companies = self.env["res.company"].sudo().search([])
        commercial_partners = partners.commercial_partner_id if partners else None
        commit = self._can_commit()
        runs = self.browse()
        first_error = None
        for company in companies:
            try:
                runs |= self._run_company(
                    company, run_date, commercial_partners, commit=commit
                )
            except Exception as error:
                # With commits, the failed run is recorded and logged, and the
                # other companies still get their run before the error is
                # raised again for the scheduler.
                if not commit:
                    raise
                first_error = first_error or error
        if first_error:
            raise first_error
        return runs

    def _run_company(self, company, run_date, partners, commit=None):
        if commit is None:
            commit = self._can_commit()
        run_model = self.sudo().with_company(company)
        today = run_date or run_model._get_company_today(company)
        run_model._lock_company(company)
        try:
            run, attempt = run_model._start_attempt(company, today, partners, "direct")
            if commit:
                self._commit_batch()
            run._execute(partners, attempt, commit)
        finally:
            run_model._unlock_company(company)
        return run.with_env(self.env)

    @api.model
    def _enqueue_collections(self, run_date=None, companies=None):
        """Start the run of each company and create a queue job per batch.

        The company-wide steps are done here, and the last batch job closes
        the run. Needs the queue_job addon. Returns the runs started.
        """
        if companies is None:
            companies = self.env["res.company"].sudo().search([])
        commit = self._can_commit()
        runs = self.browse()
        first_error = None
        for company in companies:
            try:
                runs |= self._enqueue_company(company, run_date, commit)
            except Exception as error:
                # As in _run_collections: with commits, the other companies
                # still get their run before the error is raised again.
                if not commit:
                    raise
                self.env.cr.rollback()
                _logger.exception(
                    "Collection run of company %s could not be queued", company.id
                )
                first_error = first_error or error
        if first_error:
            raise first_error
        return runs

    @api.model
    def _enqueue_company(self, company, run_date, commit):
        run_model = self.sudo().with_company(company)
        today = run_date or run_model._get_company_today(company)
        run_model._lock_company(company)
        try:
            run, attempt = run_model._start_attempt(company, today, None, "queue")
            if commit:
                self._commit_batch()
            run._prepare_batches_or_fail(None, attempt, commit)
            run.batch_ids._enqueue()
            run._close_if_last_batch(attempt)
            if commit:
                self._commit_batch()
        finally:
            run_model._unlock_company(company)
        return run.with_env(self.env)

    @api.model
    def _is_job_queue_installed(self):
        return "queue.job" in self.env and hasattr(self, "with_delay")

    @api.model
    def _start_attempt(self, company, run_date, partners, mode):
        """Return the run of ``company`` for ``run_date`` and its new attempt.

        The last run of that date resumes when it did not end (it is still
        marked running, was interrupted or failed) and covers the same
        customers. Otherwise a new run starts. Any other run left running is
        marked interrupted.
        """
        run = self._find_run_to_resume(company, run_date, partners)
        self._mark_interrupted_runs(company)
        now = fields.Datetime.now()
        if run:
            run.write({"state": "running", "date_end": False, "error_message": False})
        else:
            run = self.create(
                {
                    "company_id": company.id,
                    "run_date": run_date,
                    "date_start": now,
                    "user_id": self.env.uid,
                    "partner_ids": [fields.Command.set(partners.ids)]
                    if partners
                    else [],
                }
            )
        number = max(run.attempt_ids.mapped("number"), default=0) + 1
        attempt = self.env["collection.run.attempt"].create(
            {"run_id": run.id, "number": number, "mode": mode, "date_start": now}
        )
        return run, attempt

    @api.model
    def _find_run_to_resume(self, company, run_date, partners):
        run = self.search(
            [("company_id", "=", company.id), ("run_date", "=", run_date)],
            order="id desc",
            limit=1,
        )
        if run.state == "done":
            return self.browse()
        if set(run.partner_ids.ids) != set(partners.ids if partners else []):
            return self.browse()
        return run

    def _execute(self, partners, attempt, commit):
        """Do the company-wide steps unless done, then the batches not done.

        A batch with customers that failed is marked failed (see
        _process_batch), and the other batches still run. The run then fails
        with the first error, which is raised again, and its next attempt
        resumes the failed batches.
        """
        self.ensure_one()
        self._prepare_batches_or_fail(partners, attempt, commit)
        errors = []
        batches = self.batch_ids.filtered(lambda batch: batch.state != "done")
        for number, batch in enumerate(batches.sorted("sequence"), start=1):
            error = self._run_batch_transaction(batch, attempt, commit)
            if error:
                errors.append(error)
            self.env["ir.cron"]._notify_progress(
                done=number, remaining=len(batches) - number
            )
        if errors:
            self._record_failure(
                attempt,
                _(
                    "%(count)s batches failed. First error: %(error)s",
                    count=len(errors),
                    error=errors[0],
                ),
            )
            if commit:
                self._commit_batch()
            raise errors[0]
        self._close_run(attempt)
        if commit:
            self._commit_batch()

    def _prepare_batches_or_fail(self, partners, attempt, commit):
        """Do the company-wide steps and plan the batches, once per run.

        On an error the run and the attempt are recorded failed, and the error
        is raised again.
        """
        if self.date_planned:
            return
        try:
            self._check_negotiations(partners)
            self.env["collection.pouch.item"]._apply_matured(
                self.company_id, self.run_date, partners
            )
            self._plan_batches(partners)
            if commit:
                self._commit_batch()
        except Exception as error:
            if not commit:
                raise
            self.env.cr.rollback()
            self._record_failure(attempt, str(error))
            self._commit_batch()
            _logger.exception(
                "Collection run %s of company %s failed", self.id, self.company_id.id
            )
            raise

    def _run_batch_transaction(self, batch, attempt, commit):
        """Do ``batch`` in its own transaction, and return its error if some
        of its customers failed.

        A failing customer is left out and the others are done: see
        _process_batch. An error outside the customers' work rolls the
        batch back.
        """
        try:
            error = self._process_batch(batch, attempt)
            if commit:
                self._commit_batch()
                # The batch's records stay in the cache after the commit:
                # dropping them keeps the memory of a run flat however many
                # batches it has.
                self.env.invalidate_all()
            return error
        except Exception as error:  # pylint: disable=broad-exception-caught
            if commit:
                self.env.cr.rollback()
            self.env.invalidate_all()
            batch.write(
                {
                    "state": "failed",
                    "attempt_id": attempt.id,
                    "error_message": str(error),
                }
            )
            if commit:
                self._commit_batch()
            _logger.exception(
                "Batch %s of collection run %s of company %s failed",
                batch.sequence,
                self.id,
                self.company_id.id,
            )
            return error

    def _record_failure(self, attempt, message):
        now = fields.Datetime.now()
        attempt.write({"state": "failed", "date_end": now, "error_message": message})
        self.write({"state": "failed", "date_end": now, "error_message": message})

    def _process_batch(self, batch, attempt, sum_counts=True):
        """Decide, notify, charge and hand over the customers of ``batch``,
        and return the first error of the customers that failed, or None.

        The batch is tried as a whole in a savepoint. If it fails, its
        customers are tried one at a time, each in a savepoint, so that the
        bad data of one customer (an account that cannot be booked, say)
        does not hold back the reminders of the others. The batch is then
        marked failed, with each failed customer and error in its message.
        A later attempt does it again. The customers already done are not
        notified or charged twice, because their stage changes are done and
        their charges recorded. Counters add up over the attempts.

        ``sum_counts`` updates the run's counters from its batches, which
        queue jobs leave to the last job so that parallel jobs do not write
        the same run row.
        """
        self.ensure_one()
        partners = batch.partner_ids
        try:
            with self.env.cr.savepoint():
                totals = self._process_customers(partners)
            errors = {}
        except Exception as error:  # pylint: disable=broad-exception-caught
            self.env.invalidate_all()
            _logger.warning(
                "Batch %s of collection run %s failed (%s); trying its %s "
                "customers one at a time",
                batch.sequence,
                self.id,
                error,
                len(partners),
            )
            totals, errors = self._process_customers_one_by_one(partners)
        values = batch._add_counts(totals)
        values.update(
            {
                "state": "failed" if errors else "done",
                "attempt_id": attempt.id,
                "date_done": False if errors else fields.Datetime.now(),
                "error_message": "\n".join(
                    f"{partner.display_name}: {error}"
                    for partner, error in errors.items()
                )
                or False,
            }
        )
        batch.write(values)
        if sum_counts:
            self._sum_batch_counts()
        for partner, error in errors.items():
            _logger.error(
                "Collection run %s of company %s: customer %s failed: %s",
                self.id,
                self.company_id.id,
                partner.id,
                error,
            )
        return next(iter(errors.values()), None)

    def _process_customers_one_by_one(self, partners):
        """Do each of ``partners`` in a savepoint of its own, and return the
        summed counts of those done and {customer: error} of the others."""
        totals = None
        errors = {}
        for partner in partners:
            try:
                with self.env.cr.savepoint():
                    counts = self._process_customers(partner)
            except Exception as error:  # pylint: disable=broad-exception-caught
                self.env.invalidate_all()
                errors[partner] = error
                continue
            totals = counts if totals is None else add_batch_counts(totals, counts)
        return totals or add_batch_counts(None, None), errors

    def _process_customers(self, partners):
        """Decide, notify, charge and hand over ``partners``, and return the
        counts and step timings to store on their batch.

        Every query of the steps, including those of the notices and the
        charges, is limited to these customers through the context key
        ``collection_batch_partner_ids``.
        """
        self.ensure_one()
        run = self.with_context(collection_batch_partner_ids=tuple(partners.ids))
        timings = {}
        counters, skipped = run._time_step(
            timings, "decide", run._decide_stages, partners
        )
        notice_counts = run._time_step(timings, "notify", run._act_on_pending, partners)
        penalty_move_count, penalty_amount = run._time_step(
            timings, "charge", run._charge_penalties, partners
        )
        legal_case_count = run._time_step(
            timings, "hand_over", run._hand_over_to_legal, partners
        )
        return {
            "step_timings": timings,
            "item_count": counters["items"],
            "changed_count": counters["changed"],
            "skipped_count": sum(skipped.values()),
            "skip_counts": dict(skipped),
            "notice_count": notice_counts["notices"],
            "message_count": notice_counts["messages"],
            "letter_count": notice_counts["letters"],
            "activity_count": notice_counts["activities"],
            "not_reached_count": notice_counts["not_reached"],
            "legal_case_count": legal_case_count,
            "penalty_move_count": penalty_move_count,
            "penalty_amount": penalty_amount,
        }

    def _time_step(self, timings, name, step, *args):
        """Call ``step`` with ``args``, store its wall seconds and SQL queries
        in ``timings`` under ``name``, and return its result."""
        self.env.flush_all()
        queries_before = self.env.cr.sql_log_count
        started = time.perf_counter()
        result = step(*args)
        self.env.flush_all()
        timings[name] = {
            "seconds": round(time.perf_counter() - started, 3),
            "queries": self.env.cr.sql_log_count - queries_before,
        }
        return result

    def _sum_batch_counts(self):
        """Set the run's counters to the sums over its batches, including
        the customers done in batches that failed in part."""
        self.ensure_one()
        batches = self.batch_ids
        values = {name: sum(batches.mapped(name)) for name in BATCH_COUNT_FIELDS}
        skip_counts = Counter()
        for batch in batches:
            skip_counts.update(batch.skip_counts or {})
        values["skip_counts"] = dict(skip_counts)
        self.write(values)

    def _close_as_job(self):
        """Close the run as a queue job if none of its batches is left.

        Of two closing jobs that run together, the second fails with a
        serialization error on the run row. It is retried by queue_job a few
        seconds later, without an error in the log, and then finds the run
        closed.
        """
        self.ensure_one()
        from odoo.addons.queue_job.exception import RetryableJobError

        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self._close_if_last_batch(self.attempt_ids.sorted("number")[-1:])
        except SerializationFailure as error:
            raise RetryableJobError(
                f"Collection run {self.id} is being closed by another job",
                seconds=CLOSE_RETRY_SECONDS,
                ignore_retry=True,
            ) from error

    def _close_if_last_batch(self, attempt):
        """Close the run once none of its batches is left to do.

        The run row is updated first, so that two closings of the same run
        take turns (see _close_as_job).
        """
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE collection_run SET write_date = NOW() AT TIME ZONE 'UTC' "
            "WHERE id = %s RETURNING state",
            [self.id],
        )
        # A closing job may find the run closed by another one. A run closed
        # as failed is closed again, since a job of its failed batch may just
        # have done it.
        if self.env.cr.fetchone()[0] == "done":
            return False
        self.env.cr.execute(
            "SELECT COUNT(*) FROM collection_run_batch "
            "WHERE run_id = %s AND state NOT IN ('done', 'failed')",
            [self.id],
        )
        if self.env.cr.fetchone()[0]:
            return False
        self._sum_batch_counts()
        failed = self.batch_ids.filtered(lambda batch: batch.state == "failed")
        if failed:
            self._record_failure(
                attempt,
                _(
                    "%(count)s batches failed. First error: %(error)s",
                    count=len(failed),
                    error=failed[0].error_message,
                ),
            )
        else:
            self._close_run(attempt)
        return True

    def _close_run(self, attempt):
        self.ensure_one()
        now = fields.Datetime.now()
        attempt.write({"state": "done", "date_end": now})
        self.write({"state": "done", "date_end": now, "error_message": False})
        _logger.info(
            "Collection run %s of company %s on %s, attempt %s: %s items "
            "evaluated, %s changed stage, %s skipped, %s notices, %s emails "
            "queued, %s letters, %s activities, %s customers not reached, "
            "%s promises kept, %s promises broken, %s plans completed, "
            "%s plans broken, %s legal cases opened, %s legal cases escalated, "
            "%s interest and fee invoices of %s",
            self.id,
            self.company_id.id,
            self.run_date,
            attempt.number,
            self.item_count,
            self.changed_count,
            self.skipped_count,
            self.notice_count,
            self.message_count,
            self.letter_count,
            self.activity_count,
            self.not_reached_count,
            self.promise_kept_count,
            self.promise_broken_count,
            self.plan_completed_count,
            self.plan_broken_count,
            self.legal_case_count,
            self.legal_escalated_count,
            self.penalty_move_count,
            self.penalty_amount,
        )

    @api.model
    def _enter_open_items(self, company):
        """Give the company's open items their stage, without acting on them.

        Used at installation: the next run sends the notices of the stages the
        items entered.
        """
        run = (
            self.sudo()
            .with_company(company)
            .create(
                {
                    "company_id": company.id,
                    "run_date": self._get_company_today(company),
                    "date_start": fields.Datetime.now(),
                    "user_id": self.env.uid,
                }
            )
        )
        counters, skipped = run._decide_stages(None)
        run._write_counts(counters, skipped)
        run.write({"state": "done", "date_end": fields.Datetime.now()})
        return run

    def _commit_batch(self):
        # A run commits its batches so that a timeout or a crash keeps the work
        # already done, and its next attempt resumes from the batches not done.
        self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _can_commit(self):
        """Tell whether the run may commit its batches.

        It may not inside a test, where the test owns the transaction, nor when
        the caller says so (installation).
        """
        if odoo.modules.module.current_test or self.env.registry.in_test_mode():
            return False
        return not self.env.context.get("collection_no_commit")

    @api.model
    def _get_company_today(self, company):
        tz_name = company.partner_id.tz or "UTC"
        try:
            timezone = pytz.timezone(tz_name)
        except pytz.UnknownTimeZoneError:
            _logger.warning(
                "Company %s has the unknown time zone %r, using UTC",
                company.id,
                tz_name,
            )
            timezone = pytz.utc
        return datetime.now(pytz.utc).astimezone(timezone).date()

    @api.model
    def _lock_company(self, company):
        """Take the company's run lock, or raise if another run holds it.

        The lock belongs to the database session, not to the transaction, so
        it survives the commits between batches and is freed if the process
        dies.
        """
        self.env.cr.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_KEY, company.id]
        )
        if not self.env.cr.fetchone()[0]:
            raise UserError(
                _(
                    "A collection run of %(company)s is already in progress. "
                    "Try again once it has ended.",
                    company=company.name,
                )
            )

    @api.model
    def _unlock_company(self, company):
        self.env.cr.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_KEY, company.id]
        )

    @api.model
    def _mark_interrupted_runs(self, company):
        """Close the runs and attempts of ``company`` that a crash or a timeout
        left running.

        Called under the company's run lock, so no other process is running
        them.
        """
        # NOTE: the batch jobs of a run started with queue_job do not hold the
        # lock. An attempt whose jobs still wait for a worker is marked
        # interrupted too, and its jobs still do their batches.
        now = fields.Datetime.now()
        self.search([("company_id", "=", company.id), ("state", "=", "running")]).write(
            {"state": "interrupted", "date_end": now}
        )
        self.env["collection.run.attempt"].search(
            [("run_id.company_id", "=", company.id), ("state", "=", "running")]
        ).write({"state": "interrupted", "date_end": now})

    def _check_manager(self):
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(_("Only a collections manager can run the collection."))

    def _action_show_runs(self, runs):
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_run_action"
        )
        action["domain"] = [("id", "in", runs.ids)]
        return action

    # ------------------------------------------------------------------
    # Promises and payment plans
    # ------------------------------------------------------------------

    def _check_negotiations(self, partners):
        """Close the promises and plans that are kept, completed or broken.

        Runs before the stages are decided, so that the items of a broken
        promise or plan re-enter escalation in the same run.
        """
        self.ensure_one()
        promise_counts = (
            self.env["collection.promise"].sudo()._check_promises(self, partners)
        )
        plan_counts = self.env["collection.plan"].sudo()._check_plans(self, partners)
        escalated_count = (
            self.env["collection.legal.case"].sudo()._escalate_overdue(self, partners)
        )
        self.write(
            {
                "promise_kept_count": promise_counts.get("kept", 0),
                "promise_broken_count": promise_counts.get("broken", 0),
                "plan_completed_count": plan_counts.get("completed", 0),
                "plan_broken_count": plan_counts.get("broken", 0),
                "legal_escalated_count": escalated_count,
            }
        )

    def _hand_over_to_legal(self, partners):
        """Put into legal cases the open items whose stage hands them over to
        legal, once the stage has been acted on.

        An item enters a legal case once: the items of a closed or cancelled
        case are not handed over again. Returns the number of cases opened.
        """
        self.ensure_one()
        self.env.flush_all()
        query = """
            SELECT DISTINCT history.move_line_id
              FROM collection_history history
              JOIN collection_stage stage ON stage.id = history.stage_id
              JOIN account_move_line aml ON aml.id = history.move_line_id
             WHERE history.company_id = %(company_id)s
               AND stage.legal_handover IS TRUE
               AND history.state IN ('done', 'not_reached')
               AND aml.reconciled IS NOT TRUE
               AND NOT EXISTS (
                       SELECT 1
                         FROM collection_legal_case_move_line_rel rel
                        WHERE rel.move_line_id = history.move_line_id
                   )
        """
        params = {"company_id": self.company_id.id}
        if partners:
            query += " AND history.partner_id IN %(partner_ids)s"
            params["partner_ids"] = tuple(partners.ids)
        self.env.cr.execute(query, params)
        item_ids = [item_id for (item_id,) in self.env.cr.fetchall()]
        if not item_ids:
            return 0
        items = self.env["account.move.line"].sudo().browse(item_ids)
        cases = (
            self.env["collection.legal.case"]
            .sudo()
            ._hand_over_items(self.company_id, items, self.run_date)
        )
        return len(cases)

    # ------------------------------------------------------------------
    # Interest and fees
    # ------------------------------------------------------------------

    def _charge_penalties(self, partners):
        """Charge the interest and fees of the stages the run has acted on.

        Items are charged once their stage has been acted on, once per stage,
        so a repeated run charges nothing. Interest and fee invoices are
        chased like other invoices but bear no interest themselves, and
        paused items (promise, plan, dispute over the whole amount, legal
        claim) are left for a run after the pause. Items paid in full since
        their last charge are charged the interest up to their final payment
        when the stage they had reached charges interest.

        Returns the number of invoices booked and their total in the company's
        currency.
        """
        self.ensure_one()
        self.env.flush_all()
        query = """
            SELECT aml.id
              FROM account_move_line aml
              JOIN account_move move ON move.id = aml.move_id
              JOIN account_account account ON account.id = aml.account_id
              JOIN res_partner partner ON partner.id = aml.partner_id
             WHERE aml.company_id = %(company_id)s
               AND aml.parent_state = 'posted'
               AND account.account_type = 'asset_receivable'
               AND move.move_type IN %(move_types)s
               AND move.collection_is_penalty IS NOT TRUE
               AND aml.reconciled IS NOT TRUE
               AND aml.amount_residual_currency > 0
               AND aml.date_maturity < %(run_date)s
               AND EXISTS (
                       SELECT 1
                         FROM collection_history history
                        WHERE history.move_line_id = aml.id
                          AND history.stage_id = aml.collection_stage_id
                          AND history.state IN ('done', 'not_reached')
                   )
        """
        params = {
            "company_id": self.company_id.id,
            "move_types": CHASED_MOVE_TYPES,
            "run_date": self.run_date,
        }
        if partners:
            query += " AND partner.commercial_partner_id IN %(partner_ids)s"
            params["partner_ids"] = tuple(partners.ids)
        query += " ORDER BY aml.id"
        self.env.cr.execute(query, params)
        found_ids = [line_id for (line_id,) in self.env.cr.fetchall()]
        paused = self._get_paused_line_ids(partners)
        line_ids = [line_id for line_id in found_ids if line_id not in paused]
        line_ids += self._get_paid_late_line_ids(partners)
        if not line_ids:
            return 0, 0.0
        lines = self.env["account.move.line"].sudo().browse(line_ids)
        invoices = (
            self.env["collection.penalty"]
            .sudo()
            .with_context(tz=self.company_id.partner_id.tz)
            ._charge_for_run(self, lines, self._get_disputed_amounts(partners))
        )
        company = self.company_id
        amount = sum(
            invoice.currency_id._convert(
                invoice.amount_total, company.currency_id, company, self.run_date
            )
            for invoice in invoices
        )
        return len(invoices), amount

    def _get_paid_late_line_ids(self, partners):
        """Return the items paid in full after their due date that owe interest
        up to their final payment, or that may have been charged too much.

        Their stage, or a stage they went through, charges interest, or they
        were charged interest before. They were also reconciled since their
        last interest charge, by their final payment or by a payment dated
        before the charge but entered after it.
        """
        query = "SELECT aml.id" + PAID_LATE_ITEMS_FROM_WHERE
        params = {
            "company_id": self.company_id.id,
            "move_types": CHASED_MOVE_TYPES,
            "run_date": self.run_date,
        }
        if partners:
            query += " AND partner.commercial_partner_id IN %(partner_ids)s"
            params["partner_ids"] = tuple(partners.ids)
        query += " ORDER BY aml.id"
        self.env.cr.execute(query, params)
        return [line_id for (line_id,) in self.env.cr.fetchall()]

    def _get_paused_line_ids(self, partners=None):
        """Return {item id: reason} for the items the run must not escalate.

        Items covered by an open promise to pay or by an active payment plan
        of the run's company are paused, and so are items whose pouch
        instruments pending maturity or whose open disputes
        cover their whole residual. Items with a legal claim filed are out of
        the automatic collection for good. Limited to the items of
        ``partners``, or else of the batch being done.
        """
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.id, 'legal_claim'
                  FROM account_move_line aml
                 WHERE aml.collection_claim_reference IS NOT NULL
                   AND aml.company_id = %(company_id)s
                   AND aml.reconciled IS NOT TRUE
                   %(partner_filter)s
                 UNION ALL
                SELECT rel.move_line_id, 'promise'
                  FROM collection_promise_move_line_rel rel
                  JOIN collection_promise promise ON promise.id = rel.promise_id
                  JOIN account_move_line aml ON aml.id = rel.move_line_id
                 WHERE promise.state = 'open'
                   AND promise.company_id = %(company_id)s
                   %(partner_filter)s
                 UNION ALL
                SELECT rel.move_line_id, 'plan'
                  FROM collection_plan_move_line_rel rel
                  JOIN collection_plan plan ON plan.id = rel.plan_id
                  JOIN account_move_line aml ON aml.id = rel.move_line_id
                 WHERE plan.state = 'active' AND plan.company_id = %(company_id)s
                   %(partner_filter)s
                 UNION ALL
                SELECT allocation.move_line_id, 'pouch'
                  FROM collection_pouch_allocation allocation
                  JOIN collection_pouch_item item ON item.id = allocation.item_id
                  JOIN account_move_line aml ON aml.id = allocation.move_line_id
                 WHERE item.state = 'posted' AND item.date_applied IS NULL
                   AND item.company_id = %(company_id)s
                   %(partner_filter)s
              GROUP BY allocation.move_line_id, aml.amount_residual_currency
                HAVING SUM(allocation.amount) >= aml.amount_residual_currency
                 UNION ALL
                SELECT line.move_line_id, 'dispute'
                  FROM collection_dispute_line line
                  JOIN collection_dispute dispute ON dispute.id = line.dispute_id
                  JOIN account_move_line aml ON aml.id = line.move_line_id
                 WHERE dispute.state = 'open'
                   AND dispute.company_id = %(company_id)s
                   %(partner_filter)s
              GROUP BY line.move_line_id, aml.amount_residual_currency
                HAVING SUM(line.amount_disputed) >= aml.amount_residual_currency
                """,
                company_id=self.company_id.id,
                partner_filter=self._get_item_partner_filter(partners),
            )
        )
        # In the skip counts a legal claim outranks a plan, which outranks an
        # instrument pending maturity, then a promise, then a dispute.
        rank = {"legal_claim": -1, "plan": 0, "pouch": 1, "promise": 2, "dispute": 3}
        paused = {}
        for line_id, reason in self.env.cr.fetchall():
            current = paused.get(line_id)
            if current is None or rank[reason] < rank[current]:
                paused[line_id] = reason
        return paused

    def _get_disputed_amounts(self, partners=None):
        """Return {item id: amount under open disputes} for the run's company,
        limited to the items of ``partners``, or else of the batch being done.

        A payment made during a dispute may leave less owed than is disputed:
        the amount is then capped at what is still owed.
        """
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT line.move_line_id,
                       LEAST(
                           SUM(line.amount_disputed),
                           GREATEST(aml.amount_residual_currency, 0)
                       )
                  FROM collection_dispute_line line
                  JOIN collection_dispute dispute ON dispute.id = line.dispute_id
                  JOIN account_move_line aml ON aml.id = line.move_line_id
                 WHERE dispute.state = 'open' AND dispute.company_id = %s
                   %s
              GROUP BY line.move_line_id, aml.amount_residual_currency
                """,
                self.company_id.id,
                self._get_item_partner_filter(partners),
            )
        )
        return dict(self.env.cr.fetchall())

    def _get_item_partner_filter(self, partners):
        """Return the SQL condition that keeps the items ``aml`` of
        ``partners``, or else of the batch being done, or nothing."""
        partners = self._get_batch_partners(partners)
        if not partners:
            return SQL()
        return SQL(
            """
            AND aml.partner_id IN (
                    SELECT customer.id
                      FROM res_partner customer
                     WHERE customer.commercial_partner_id IN %s
                )
            """,
            tuple(partners.ids),
        )

    # ------------------------------------------------------------------
    # Batches of customers
    # ------------------------------------------------------------------

    def _plan_batches(self, partners):
        """Split the customers the run has work for into batches of
        RUN_BATCH_SIZE, and mark the run planned.

        A customer has work when it has open items the run chases, stage
        changes waiting to be acted on, items paid late that may owe interest,
        or a credit hold that may be lifted. They are selected in one query.
        """
        self.ensure_one()
        self.env.flush_all()
        company = self.company_id
        held = (
            self.env["res.partner"]
            .with_company(company)
            ._search([("collection_credit_hold", "=", True)])
        )
        partner_filter = SQL()
        if partners:
            partner_filter = SQL("WHERE customer_id IN %s", tuple(partners.ids))
        query = SQL(
            """
            SELECT customer_id FROM (
                SELECT partner.commercial_partner_id AS customer_id %(open_items)s
                 UNION
                SELECT history.partner_id
                  FROM collection_history history
                 WHERE history.company_id = %(company_id)s
                   AND history.state = 'pending'
                 UNION
                SELECT partner.commercial_partner_id %(paid_late_items)s
                 UNION
                SELECT held.commercial_partner_id
                  FROM res_partner held
                 WHERE held.id IN %(held)s
            ) customer
            %(partner_filter)s
            ORDER BY customer_id
            """,
            open_items=SQL(
                OPEN_ITEMS_FROM_WHERE,
                company_id=company.id,
                move_types=CHASED_MOVE_TYPES,
                horizon=self._get_horizon(),
            ),
            company_id=company.id,
            paid_late_items=SQL(
                PAID_LATE_ITEMS_FROM_WHERE,
                company_id=company.id,
                move_types=CHASED_MOVE_TYPES,
                run_date=self.run_date,
            ),
            held=held.subselect(),
            partner_filter=partner_filter,
        )
        self.env.cr.execute(query)
        customer_ids = [customer_id for (customer_id,) in self.env.cr.fetchall()]
        batch_values = []
        for start in range(0, len(customer_ids), RUN_BATCH_SIZE):
            batch_ids = customer_ids[start : start + RUN_BATCH_SIZE]
            batch_values.append(
                {
                    "run_id": self.id,
                    "sequence": len(batch_values) + 1,
                    "partner_ids": [fields.Command.set(batch_ids)],
                    "partner_count": len(batch_ids),
                }
            )
        self.env["collection.run.batch"].create(batch_values)
        self.date_planned = fields.Datetime.now()

    def _get_batch_partners(self, partners=None):
        """Return ``partners``, or else the customers of the batch being done,
        or else None for the whole company.

        The notice and interest code calls the run's helpers without
        customers, so the batch reaches them through the context.
        """
        if partners:
            return partners
        batch_partner_ids = self.env.context.get("collection_batch_partner_ids")
        if batch_partner_ids:
            return self.env["res.partner"].browse(batch_partner_ids)
        return None

    # ------------------------------------------------------------------
    # Deciding stages
    # ------------------------------------------------------------------

    def _decide_stages(self, partners):
        """Move every open item of ``partners`` (all customers when empty) to
        the stage its delay calls for, and return the item counters and the
        skip counts by reason.

        Stage changes are recorded as history rows, pending until the act phase
        sends the messages. Items are selected in one query and decided in
        memory, so the number of queries does not grow with the items.
        """
        self.ensure_one()
        self.env.flush_all()
        rows = self._fetch_open_items(partners)
        policies = self._get_partner_policies({row["partner_id"] for row in rows})
        paused = self._get_paused_line_ids(partners)
        counters = Counter()
        skipped = Counter()

        for start in range(0, len(rows), DECIDE_BATCH_SIZE):
            batch = rows[start : start + DECIDE_BATCH_SIZE]
            self._decide_batch(batch, policies, paused, counters, skipped)

        self._clear_credit_holds(partners)
        return counters, skipped

    def _get_horizon(self):
        """Return the last due date of the items the run chases: items due
        later are too far ahead for even the earliest courtesy reminder."""
        min_offset = min(
            self.env["collection.stage"]
            .search(
                [
                    ("company_id", "in", (self.company_id.id, False)),
                    ("policy_id.active", "=", True),
                ]
            )
            .mapped("offset_days"),
            default=0,
        )
        return self.run_date + timedelta(days=max(0, -min_offset))

    def _fetch_open_items(self, partners):
        """Return the open receivable items of customer invoices of the company.

        Items due too far ahead for even the earliest courtesy reminder are
        left out. Each row also contains the item's amount under open disputes.
        """
        query = (
            """
            SELECT aml.id, aml.move_id, aml.date_maturity, aml.currency_id,
                   aml.amount_residual_currency, aml.collection_stage_id,
                   aml.collection_days_paused,
                   partner.commercial_partner_id AS partner_id
            """
            + OPEN_ITEMS_FROM_WHERE
        )
        params = {
            "company_id": self.company_id.id,
            "move_types": CHASED_MOVE_TYPES,
            "horizon": self._get_horizon(),
        }
        if partners:
            query += " AND partner.commercial_partner_id IN %(partner_ids)s"
            params["partner_ids"] = tuple(partners.ids)
        query += " ORDER BY aml.id"
        self.env.cr.execute(query, params)
        rows = self.env.cr.dictfetchall()
        disputed = self._get_disputed_amounts(partners)
        for row in rows:
            row["amount_disputed"] = disputed.get(row["id"], 0.0)
        return rows

    def _get_partner_policies(self, partner_ids):
        """Return {commercial partner id: policy} for the run's company."""
        company = self.company_id
        default_policy = company.collection_policy_id
        partners = (
            self.env["res.partner"].with_company(company).browse(list(partner_ids))
        )
        if not default_policy.active:
            default_policy = default_policy.browse()
        policies = {}
        for partner in partners:
            policy = partner.collection_policy_id
            policies[partner.id] = policy if policy.active else default_policy
        return policies

    def _decide_batch(self, rows, policies, paused, counters, skipped):
        today = self.run_date
        partners = self.env["res.partner"].browse({row["partner_id"] for row in rows})
        on_hold = {
            partner.id
            for partner in partners
            if partner.collection_hold_until and partner.collection_hold_until >= today
        }
        existing, waiting_line_ids = self._get_existing_history(
            {row["id"] for row in rows}
        )
        settings_by_policy = {
            policy: _DecideSettings(
                policy_id=policy.id,
                tolerance=policy.tolerance_amount,
                catchup_rule=policy.catchup_rule,
                dispute_days_excluded=policy.dispute_days_excluded,
                grace_days=policy.grace_days,
                state="to_approve" if policy.require_approval else "pending",
                steps=policy._get_stage_steps(),
            )
            for policy in set(policies.values())
            if policy
        }
        rounding_by_currency = {
            currency.id: currency.rounding
            for currency in self.env["res.currency"].browse(
                {row["currency_id"] for row in rows}
            )
        }
        company_id = self.company_id.id
        history_values = []
        lines_by_stage = defaultdict(list)

        # Field values are read once per policy and currency above: this loop
        # runs for every open item of the batch.
        for row in rows:
            counters["items"] += 1
            policy = policies.get(row["partner_id"])
            if not policy:
                skipped["no_policy"] += 1
                continue
            if row["partner_id"] in on_hold:
                skipped["on_hold"] += 1
                continue
            if row["id"] in paused:
                skipped[paused[row["id"]]] += 1
                continue
            settings = settings_by_policy[policy]
            # TODO: the tolerance applies per item, so many small invoices of one
            # customer are never chased. A per-customer total would need one
            # currency to add the items in.
            # An item disputed in part is chased for its undisputed rest only.
            amount_chased = row["amount_residual_currency"] - row["amount_disputed"]
            below_tolerance = (
                float_compare(
                    amount_chased,
                    settings.tolerance,
                    precision_rounding=rounding_by_currency[row["currency_id"]],
                )
                < 0
            )
            if below_tolerance:
                skipped["below_tolerance"] += 1
                continue

            if settings.catchup_rule == CATCHUP_CLIMB and row["id"] in waiting_line_ids:
                # One stage at a time: the item stays until its waiting change
                # has been acted on, so that no stage's actions are passed over.
                continue
            days = days_from_due(row["date_maturity"], today)
            if settings.dispute_days_excluded:
                days -= row["collection_days_paused"] or 0
            decision = decide_stage(
                settings.steps,
                row["collection_stage_id"],
                days,
                settings.grace_days,
                settings.catchup_rule,
            )
            if not decision:
                continue

            if settings.state == "to_approve":
                skipped["to_approve"] += 1
            counters["changed"] += 1
            lines_by_stage[decision.stage_id].append(row)
            base_values = {
                "move_line_id": row["id"],
                "move_id": row["move_id"],
                "partner_id": row["partner_id"],
                "company_id": company_id,
                "policy_id": settings.policy_id,
                "run_id": self.id,
                "date": today,
                "days_overdue": days,
                "currency_id": row["currency_id"],
                "amount_residual": row["amount_residual_currency"],
            }
            for stage_id in decision.skipped_stage_ids:
                if (row["id"], stage_id) not in existing:
                    history_values.append(
                        dict(base_values, stage_id=stage_id, state="skipped")
                    )
            if (row["id"], decision.stage_id) not in existing:
                history_values.append(
                    dict(base_values, stage_id=decision.stage_id, state=settings.state)
                )

        self.env["collection.history"].sudo()._insert_decided(history_values)
        self._write_item_stages(lines_by_stage)

    def _get_existing_history(self, line_ids):
        """Return the (item, stage) pairs already recorded for ``line_ids``,
        and the items that have a change still waiting to be acted on."""
        if not line_ids:
            return set(), set()
        self.env.cr.execute(
            """
            SELECT move_line_id, stage_id, state
              FROM collection_history
             WHERE move_line_id IN %s
            """,
            [tuple(line_ids)],
        )
        existing = set()
        waiting_line_ids = set()
        for line_id, stage_id, state in self.env.cr.fetchall():
            existing.add((line_id, stage_id))
            if state in ("pending", "to_approve"):
                waiting_line_ids.add(line_id)
        return existing, waiting_line_ids

    def _write_item_stages(self, lines_by_stage):
        """Store the new stage on the items and on their invoices, in bulk."""
        if not lines_by_stage:
            return
        self.env.flush_all()
        move_ids = set()
        for stage_id, rows in lines_by_stage.items():
            self.env.cr.execute(
                """
                UPDATE account_move_line
                   SET collection_stage_id = %s, collection_stage_date = %s
                 WHERE id IN %s
                """,
                [stage_id, self.run_date, tuple(row["id"] for row in rows)],
            )
            move_ids.update(row["move_id"] for row in rows)
        self.env.cr.execute(
            """
            UPDATE account_move move
               SET collection_stage_id = highest.stage_id
              FROM (
                    SELECT DISTINCT ON (aml.move_id)
                           aml.move_id, aml.collection_stage_id AS stage_id
                      FROM account_move_line aml
                      JOIN collection_stage stage
                        ON stage.id = aml.collection_stage_id
                     WHERE aml.move_id IN %s
                  ORDER BY aml.move_id, stage.offset_days DESC
                   ) highest
             WHERE move.id = highest.move_id
               AND move.collection_stage_id IS DISTINCT FROM highest.stage_id
            """,
            [tuple(move_ids)],
        )
        self.env["account.move.line"].invalidate_model(
            ["collection_stage_id", "collection_stage_date"]
        )
        self.env["account.move"].invalidate_model(["collection_stage_id"])

    def _write_counts(self, counters, skipped):
        self.write(
            {
                "item_count": counters["items"],
                "changed_count": counters["changed"],
                "skipped_count": sum(skipped.values()),
                "skip_counts": dict(skipped),
            }
        )

    def _clear_credit_holds(self, partners):
        """Lift the credit hold of customers with nothing overdue in the company."""
        domain = [("collection_credit_hold", "=", True)]
        if partners:
            domain.append(("id", "in", partners.ids))
        held = (
            self.env["res.partner"].sudo().with_company(self.company_id).search(domain)
        )
        if not held:
            return
        # Overdue means due before the run date, so the horizon is the day before.
        self.env.cr.execute(
            "SELECT DISTINCT partner.commercial_partner_id"
            + OPEN_ITEMS_FROM_WHERE
            + " AND partner.commercial_partner_id IN %(partner_ids)s",
            {
                "company_id": self.company_id.id,
                "move_types": CHASED_MOVE_TYPES,
                "horizon": self.run_date - timedelta(days=1),
                "partner_ids": tuple(held.ids),
            },
        )
        still_overdue = {partner_id for (partner_id,) in self.env.cr.fetchall()}
        held.filtered(lambda partner: partner.id not in still_overdue).write(
            {"collection_credit_hold": False}
        )

    # ------------------------------------------------------------------
    # Acting on stage changes
    # ------------------------------------------------------------------

    def _act_on_pending(self, partners):
        """Send one notice per customer for the pending stage changes of
        ``partners`` (all customers when empty), and return the notice counts.

        Pending rows left by an interrupted run are picked up too. A row turns
        done in the same transaction as its notice, so a customer is never
        sent the same stage twice.
        """
        self.ensure_one()
        history_model = self.env["collection.history"].sudo()
        domain = [("company_id", "=", self.company_id.id), ("state", "=", "pending")]
        if partners:
            domain.append(("partner_id", "in", partners.ids))
        # Changes decided before a promise, plan or whole-amount dispute paused
        # the item wait for it to end, and go out if the pause ends unpaid.
        paused_ids = list(self._get_paused_line_ids(partners))
        if paused_ids:
            domain.append(("move_line_id", "not in", paused_ids))
        partner_ids = [
            partner.id
            for [partner] in history_model._read_group(
                domain, ["partner_id"], order="partner_id"
            )
        ]
        counts = Counter()
        for start in range(0, len(partner_ids), ACT_BATCH_SIZE):
            batch_ids = partner_ids[start : start + ACT_BATCH_SIZE]
            histories = history_model.search([*domain, ("partner_id", "in", batch_ids)])
            notices = (
                self.env["collection.notice"].sudo()._create_for_run(self, histories)
            )
            counts.update(self._count_notices(notices))
        return counts

    def _count_notices(self, notices):
        return {
            "notices": len(notices),
            "messages": len(
                notices.filtered(lambda notice: notice.email_state == "sent")
            ),
            "letters": len(
                notices.filtered(lambda notice: notice.letter_state == "to_print")
            ),
            "activities": len(notices.activity_ids),
            "not_reached": len(
                notices.filtered(lambda notice: notice.email_state == "not_reached")
            ),
        }
