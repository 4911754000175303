import logging

from odoo import _, fields, models

from .collection_run import BATCH_COUNT_FIELDS, add_batch_counts

_logger = logging.getLogger(__name__)

# Channel of the queue jobs of the run's batches, when the queue_job addon is
# installed. The queue_job 18.0 job runner runs the jobs of a channel missing
# from its configuration in the nearest configured parent, here root.
QUEUE_CHANNEL = "root.collection"


class CollectionRunAttempt(models.Model):
    """One start of a collection run: the first start or a resumption."""

    _name = "collection.run.attempt"
    _description = "Collection Run Attempt"
    _order = "run_id, number"

    run_id = fields.Many2one(
        comodel_name="collection.run",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    number = fields.Integer(required=True, readonly=True)
    mode = fields.Selection(
        selection=[("direct", "Scheduled Action"), ("queue", "Job Queue")],
        string="Batches Run By",
        required=True,
        default="direct",
        readonly=True,
        help="Scheduled Action: the process that started the attempt runs the "
        "batches one after the other. Job Queue: each batch is a queue job that "
        "any job worker can take.",
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
    error_message = fields.Text(readonly=True)
    batch_ids = fields.One2many(
        comodel_name="collection.run.batch",
        inverse_name="attempt_id",
        string="Batches Done",
    )
    batch_done_count = fields.Integer(
        string="Number of Batches Done", compute="_compute_batch_done_count"
    )

    def _compute_display_name(self):
        for attempt in self:
            attempt.display_name = _("Attempt %(number)s", number=attempt.number)

    def _compute_batch_done_count(self):
        for attempt in self:
            attempt.batch_done_count = len(
                attempt.batch_ids.filtered(lambda batch: batch.state == "done")
            )


class CollectionRunBatch(models.Model):
    """Customers of a collection run that are worked on in one transaction."""

    _name = "collection.run.batch"
    _inherit = ["collection.run.counters"]
    _description = "Collection Run Batch"
    _order = "run_id, sequence"

    run_id = fields.Many2one(
        comodel_name="collection.run",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    sequence = fields.Integer(required=True, readonly=True)
    partner_ids = fields.Many2many(
        comodel_name="res.partner",
        relation="collection_run_batch_partner_rel",
        column1="batch_id",
        column2="partner_id",
        string="Customers",
        readonly=True,
    )
    partner_count = fields.Integer(string="Number of Customers", readonly=True)
    state = fields.Selection(
        selection=[("pending", "Pending"), ("done", "Done"), ("failed", "Failed")],
        required=True,
        default="pending",
        readonly=True,
    )
    attempt_id = fields.Many2one(
        comodel_name="collection.run.attempt",
        readonly=True,
        help="Attempt that did the batch, or in which it failed last.",
    )
    date_done = fields.Datetime(string="Done On", readonly=True)
    error_message = fields.Text(readonly=True)
    company_currency_id = fields.Many2one(related="run_id.company_id.currency_id")
    step_timings = fields.Json(
        readonly=True,
        help="Wall seconds and SQL queries of each step of the batch, by step "
        "name: decide, notify, charge, hand_over.",
    )

    def _add_counts(self, counts):
        """Return the values that add ``counts`` to the batch's counters.

        A batch done in part by one attempt is finished by a later one, and
        its counters cover both.
        """
        self.ensure_one()
        current = {name: self[name] for name in BATCH_COUNT_FIELDS}
        current["skip_counts"] = self.skip_counts or {}
        current["step_timings"] = self.step_timings or {}
        return add_batch_counts(current, counts)

    def _get_job_identity_key(self):
        """Return the queue job identity key of the batch, so that a batch has
        at most one job waiting to run."""
        self.ensure_one()
        return f"collection.run.batch:{self.id}"

    def _enqueue(self):
        """Create a queue job per batch not done yet. Needs queue_job.

        A failed batch queued again is pending until its job has done it, so
        that the run is not closed meanwhile."""
        batches = self.filtered(lambda batch: batch.state != "done")
        batches.filtered(lambda batch: batch.state == "failed").state = "pending"
        for batch in batches:
            batch.with_delay(
                identity_key=batch._get_job_identity_key(),
                description=_(
                    "Collection run %(run)s, batch %(sequence)s",
                    run=batch.run_id.name,
                    sequence=batch.sequence,
                ),
                channel=QUEUE_CHANNEL,
            )._run_as_job()

    def _run_as_job(self):
        """Do the batch as a queue job, then queue the job that closes the
        run if no batch is left.

        The batch row is locked first, so that two jobs of one batch, such as
        one of an interrupted attempt and one of its resumption, never both
        do it: the second waits, then finds it done.

        The run is not closed here, because closing locks the run row, and
        jobs of other batches running at the same time would then fail after
        doing their whole batch. The closing job starts once this job has
        committed, so the last one finds every batch done.
        """
        self.ensure_one()
        self.env.cr.execute(
            "SELECT state FROM collection_run_batch WHERE id = %s FOR UPDATE",
            [self.id],
        )
        self.invalidate_recordset(["state"])
        if self.state == "done":
            _logger.info(
                "Batch %s of collection run %s is already done",
                self.sequence,
                self.run_id.id,
            )
            return
        run = self.run_id.sudo().with_company(self.run_id.company_id)
        attempt = run.attempt_ids.sorted("number")[-1:]
        # The customers that fail are recorded on the batch, which is marked
        # failed, rather than raised: queue_job would roll the record back.
        run._process_batch(self, attempt, sum_counts=False)
        run.with_delay(
            description=_("Collection run %(run)s, closing", run=run.name),
            channel=QUEUE_CHANNEL,
        )._close_as_job()
