/** @odoo-module **/

import { registry } from "@web/core/registry";

// Walks a portal user from the "Overdue Items" entry of /my to a dispute sent
// on the first overdue invoice, without attachments: the HTTP tests cover
// uploads.
registry.category("web_tour.tours").add("fast_collections_portal_dispute", {
    url: "/my",
    steps: () => [
        {
            content: "Open the overdue items from the portal home page",
            trigger: "a[href='/my/collections']",
            run: "click",
        },
        {
            content: "Start a dispute on the first overdue invoice",
            trigger: "tr.o_collection_item:first a.o_collection_dispute_link",
            run: "click",
        },
        {
            content: "Choose the first dispute reason",
            trigger: "select[name='reason_id']",
            run: "selectByIndex 1",
        },
        {
            content: "Describe the dispute",
            trigger: "textarea[name='description']",
            run: "edit Two of the ten boxes arrived broken.",
        },
        {
            content: "Send the dispute",
            trigger: "button.o_collection_dispute_submit",
            run: "click",
        },
        {
            content: "The overdue items page confirms the dispute",
            trigger: ".o_collection_success",
        },
    ],
});
