{
    "name": "Fast Collections",
    "summary": "Collection stages, reminders and the daily dunning run on overdue "
    "customer invoices",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Fast Collections",
    "depends": ["account", "mail"],
    "data": [
        "security/collection_security.xml",
        "security/ir.model.access.csv",
        "data/mail_template_data.xml",
        "data/collection_policy_data.xml",
        "data/ir_cron_data.xml",
        "report/collection_notice_report.xml",
        "views/collection_menus.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
    "application": False,
}
