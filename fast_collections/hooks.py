def post_init_hook(env):
    """Give every company the shipped policy and bring open items into the flow.

    Invoices that are already overdue enter the stage their delay calls for
    (under the policy's catch-up rule) without any message: the next run sends
    the notices of the stage they entered.
    """
    default_policy = env.ref("fast_collections.collection_policy_default")
    companies = env["res.company"].search([])
    companies.filtered(lambda company: not company.collection_policy_id).write(
        {"collection_policy_id": default_policy.id}
    )
    # The administrator receives the collection activities until the companies
    # name a default collector, so that no activity goes to an inactive user.
    admin = env.ref("base.user_admin", raise_if_not_found=False)
    if admin and admin.active:
        admin.groups_id |= env.ref("fast_collections.group_collection_manager")
        companies.filtered(lambda company: not company.collection_user_id).write(
            {"collection_user_id": admin.id}
        )
    run_model = env["collection.run"].with_context(collection_no_commit=True)
    for company in companies:
        run_model._enter_open_items(company)
