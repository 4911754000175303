"""Take a bench-run database through OCA's account_credit_control run.

Used by scripts/bench-run, which prepares a virtual environment with the
published 18.0 wheel of account_credit_control, runs its own collection first
and then re-runs itself in that environment's Python to time OCA's run on the
same database. OCA's addon is a benchmark tool here, never a dependency of
fast_collections.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

OCA_MODULE = "account_credit_control"
OCA_DISTRIBUTION = "odoo-addon-account_credit_control"
# The wheel version the published figures were measured with.
OCA_VERSION = "18.0.2.0.2.6"
# A .pth file put in the virtual environment so that its Python finds the
# machine's Odoo package; see write_odoo_path_file.
ODOO_PATH_FILE = "fast_collections_bench_odoo.pth"
PIP_OUTPUT_LINES = 15


@dataclass
class RunFigures:
    """Measures of one way of deciding the collection stage of every item."""

    name: str
    items: int
    records: int
    seconds: float
    queries: int
    start_rss_mb: float
    peak_rss_mb: float
    # Items of the interest and fee invoices that our run booked before OCA's
    # run, counted in OCA's items only.
    penalty_items: int = 0


def default_venv():
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fast_collections" / "bench-run-oca-venv"


# ---------------------------------------------------------------------------
# Virtual environment with OCA's wheel
# ---------------------------------------------------------------------------


def venv_python(venv):
    return Path(venv) / "bin" / "python"


def run_in_venv(python, code):
    return subprocess.run(
        [str(python), "-c", code], check=False, capture_output=True, text=True
    )


def prepare_venv(venv, version):
    """Create or reuse ``venv``, with the machine's packages visible, install
    OCA's wheel ``version`` in it, and return the path of its Python.

    Exits with a message when the folder is not a virtual environment, when
    pip fails or when the environment's Python does not find the addon.
    """
    venv = Path(venv)
    python = venv_python(venv)
    if not python.exists():
        if venv.exists() and any(venv.iterdir()):
            sys.exit(
                f"bench-run: {venv} exists and is not a virtual environment; "
                "pass an empty or missing folder to --oca-venv"
            )
        print(f"Creating the virtual environment {venv} for OCA's addon")
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
            check=True,
        )
    write_odoo_path_file(python)

    installed = run_in_venv(
        python,
        f"from importlib.metadata import version; print(version({OCA_DISTRIBUTION!r}))",
    )
    if installed.returncode or installed.stdout.strip() != version:
        requirement = f"{OCA_DISTRIBUTION}=={version}"
        print(f"Installing {requirement} into {venv}")
        status = subprocess.run(
            [str(python), "-m", "pip", "install", requirement],
            check=False,
            capture_output=True,
            text=True,
        )
        if status.returncode:
            output = (status.stdout + status.stderr).strip().splitlines()
            sys.exit(
                f"bench-run: pip could not install {requirement} into {venv} "
                f"(exit status {status.returncode}). Check that PyPI is "
                "reachable and that the version exists, or pass --no-oca to "
                "skip the comparison. Last lines of pip's output:\n  "
                + "\n  ".join(output[-PIP_OUTPUT_LINES:])
            )
    check_addon_found(python, venv)
    return python


def write_odoo_path_file(python):
    """Put the folder that contains this Python's Odoo package on the path of
    the virtual environment.

    An editable install of Odoo is found through an import hook that runs
    after the path search. The odoo/addons folder that the wheel installs in
    the environment is found first, and `import odoo` would then give an
    empty namespace package. A folder on the path that contains
    odoo/__init__.py takes precedence over that namespace package.
    """
    import odoo

    odoo_parent = Path(odoo.__file__).resolve().parent.parent
    site_packages = run_in_venv(
        python, "import sysconfig; print(sysconfig.get_path('purelib'))"
    )
    if site_packages.returncode:
        sys.exit(f"bench-run: {python} failed to run: {site_packages.stderr.strip()}")
    path_file = Path(site_packages.stdout.strip()) / ODOO_PATH_FILE
    path_file.write_text(f"{odoo_parent}\n", encoding="utf-8")


def check_addon_found(python, venv):
    status = run_in_venv(
        python,
        "import os, odoo, odoo.addons, odoo.release; "
        "print(odoo.release.version); "
        f"print(any(os.path.isdir(os.path.join(path, {OCA_MODULE!r})) "
        "for path in odoo.addons.__path__))",
    )
    lines = status.stdout.split()
    if status.returncode or lines[-1:] != ["True"]:
        sys.exit(
            f"bench-run: the Python of {venv} does not find Odoo and "
            f"{OCA_MODULE}: {(status.stdout + status.stderr).strip()}"
        )
    if not lines[0].startswith("18.0"):
        sys.exit(f"bench-run: the Python of {venv} finds Odoo {lines[0]}, not 18.0")


# ---------------------------------------------------------------------------
# OCA's credit control run, inside the virtual environment
# ---------------------------------------------------------------------------


def create_policy(env):
    """Create a credit control policy with one level per stage of the
    company's default collection policy, at the same offset in days from the
    due date, and make it the company's policy, so that it applies to every
    customer."""
    from odoo import Command

    company = env.company
    stages = company.collection_policy_id.stage_ids.sorted("offset_days")
    receivable_accounts = env["account.account"].search(
        [
            ("account_type", "=", "asset_receivable"),
            ("company_ids", "in", company.ids),
        ]
    )
    template = env.ref(f"{OCA_MODULE}.email_template_credit_control_base")
    policy = env["credit.control.policy"].create(
        {
            "name": f"Bench: {company.collection_policy_id.name}",
            "company_id": company.id,
            "account_ids": [Command.set(receivable_accounts.ids)],
            "level_ids": [
                Command.create(
                    {
                        "name": stage.name,
                        "level": level,
                        "computation_mode": "net_days",
                        "delay_days": stage.offset_days,
                        "email_template_id": template.id,
                        "channel": "email",
                        "custom_text": stage.name,
                        "custom_mail_text": f"<p>{stage.name}</p>",
                    }
                )
                for level, stage in enumerate(stages, start=1)
            ],
        }
    )
    company.credit_policy_id = policy
    return policy


def time_oca_run(env, run_date, measure):
    """Configure OCA's credit control like the default collection policy, time
    its run for ``run_date`` with ``measure`` and return its RunFigures."""
    from odoo import Command

    policy = create_policy(env)
    levels = ", ".join(
        f"{level.level}: {level.delay_days} days" for level in policy.level_ids
    )
    print(f"OCA credit control policy {policy.name!r}, levels {levels}")
    run = env["credit.control.run"].create(
        {
            "date": run_date,
            "company_id": env.company.id,
            "policy_ids": [Command.set(policy.ids)],
        }
    )
    env.cr.commit()

    def generate():
        run.generate_credit_lines()
        env.cr.commit()

    results = []
    measure(results, "OCA credit control run", env.cr, generate)
    result = results[0]

    # The move lines the run selected, read again after the timing, which is
    # the same set because the run does not change them.
    due_lines = policy._get_move_lines_to_process(run)
    penalty_items = 0
    if due_lines:
        env.cr.execute(
            """
            SELECT count(*)
              FROM account_move_line aml
             WHERE aml.id IN %s
               AND aml.move_id IN (SELECT penalty_move_id FROM collection_penalty)
            """,
            [tuple(due_lines.ids)],
        )
        penalty_items = env.cr.fetchone()[0]
    lines_by_level = {}
    for line in run.line_ids:
        level = line.policy_level_id.level
        lines_by_level[level] = lines_by_level.get(level, 0) + 1
    print(
        f"OCA run {run.id} on {run.date}: {len(due_lines)} move lines due "
        f"({penalty_items} of interest and fee invoices), "
        f"{len(run.line_ids)} credit control lines created, by level "
        f"{dict(sorted(lines_by_level.items()))}, "
        f"{len(run.manual_ids)} lines to handle manually"
    )
    return RunFigures(
        name="OCA credit control run",
        items=len(due_lines),
        records=len(run.line_ids),
        seconds=result.seconds,
        queries=result.queries,
        start_rss_mb=result.start_rss_mb,
        peak_rss_mb=result.phase_peak_rss_mb,
        penalty_items=penalty_items,
    )


# ---------------------------------------------------------------------------
# Side-by-side table
# ---------------------------------------------------------------------------


def format_figures(figures):
    rate = figures.items / figures.seconds if figures.seconds else 0
    per_item = figures.queries / figures.items if figures.items else 0
    return (
        f"{figures.name:<26} {figures.items:>8} {figures.records:>8} "
        f"{figures.seconds:>9.2f} {rate:>9.0f} {figures.queries:>8} "
        f"{per_item:>8.3f} {figures.start_rss_mb:>10.0f} {figures.peak_rss_mb:>10.0f}"
    )


def rate_ratio(ours, theirs, count):
    our_rate = count(ours) / ours.seconds if ours.seconds else 0
    their_rate = count(theirs) / theirs.seconds if theirs.seconds else 0
    return f"{our_rate / their_rate:.1f}" if their_rate else "-"


def print_comparison(ours, oca, version, run_date):
    print()
    print(
        f"Deciding stages on {run_date}: fast_collections beside OCA "
        f"{OCA_MODULE} {version}, same database, ours first"
    )
    header = (
        f"{'run':<26} {'items':>8} {'records':>8} {'seconds':>9} {'items/s':>9} "
        f"{'queries':>8} {'q/item':>8} {'RSS start':>10} {'RSS peak':>10}"
    )
    print(header)
    print("-" * len(header))
    print(format_figures(ours))
    print(format_figures(oca))
    print("-" * len(header))
    print(
        "Items per second, fast_collections / OCA: "
        f"{rate_ratio(ours, oca, lambda figures: figures.items)} "
        "(records per second: "
        f"{rate_ratio(ours, oca, lambda figures: figures.records)})"
    )
    print(
        "items: open items our run evaluated; move lines due by the run date "
        f"that OCA's run selected, {oca.penalty_items} of them from the interest "
        "and fee invoices that our run booked before it.\n"
        "records: collection.history rows written; credit.control.line rows "
        "created.\n"
        "RSS start and peak: resident MB of the process when the phase starts "
        "and at most during it. Our process also built the database, OCA's "
        "only loaded the registry."
    )
