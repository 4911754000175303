/** @odoo-module **/
/*
 * A collector glances at the dashboard, opens the worklist of overdue items
 * from the Collections menu, selects the invoice of "Tour Debtor" and records a promise to pay 600 of it
 * ten days from today. tests/test_tour_collector.py creates the data and
 * checks the promise that the tour saved.
 */

import { formatDate } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const { DateTime } = luxon;

registry.category("web_tour.tours").add("fast_collections_collector_promise", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("account.menu_finance", "Open Invoicing"),
        {
            content: "Open the Collections menu",
            trigger: '.o_main_navbar [data-menu-xmlid="fast_collections.collection_menu_root"]',
            run: "click",
        },
        {
            content: "Open the dashboard",
            trigger: '.dropdown-item[data-menu-xmlid="fast_collections.collection_dashboard_menu"]',
            run: "click",
        },
        {
            content: "The dashboard lists Tour Debtor among the largest overdue",
            trigger: ".o_field_widget[name=customer_ids] .o_data_row:contains(Tour Debtor)",
        },
        {
            content: "Open the Collections menu again",
            trigger: '.o_main_navbar [data-menu-xmlid="fast_collections.collection_menu_root"]',
            run: "click",
        },
        {
            content: "Open the worklist of overdue items",
            trigger: '.dropdown-item[data-menu-xmlid="fast_collections.collection_item_menu"]',
            run: "click",
        },
        {
            content: "Wait for the worklist",
            trigger: ".o_breadcrumb:contains(Overdue Items)",
        },
        {
            content: "Select the overdue item of Tour Debtor",
            trigger:
                ".o_data_row:has(.o_data_cell:contains(Tour Debtor)) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Open the actions of the selection",
            trigger: ".o_cp_action_menus .dropdown-toggle",
            run: "click",
        },
        {
            content: "Record a promise to pay",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains(Promise to Pay)",
            run: "click",
        },
        {
            content: "The promise form proposes the customer",
            trigger: ".o_form_view .o_field_widget[name=partner_id]:contains(Tour Debtor)",
        },
        {
            content: "Enter the promised date, ten days from today",
            trigger: ".o_field_widget[name=date_promised] input",
            run: `edit ${formatDate(DateTime.now().plus({ days: 10 }))} && press Escape`,
        },
        {
            content: "Enter the promised amount",
            trigger: ".o_field_widget[name=amount] input",
            run: "edit 600",
        },
        ...stepUtils.saveForm(),
        {
            content: "The promise is open",
            trigger:
                ".o_statusbar_status button.o_arrow_button_current:contains(Open)",
        },
        {
            content: "The chatter shows the promise recorded",
            trigger: ".o-mail-Message-body:contains(recorded)",
        },
    ],
});
