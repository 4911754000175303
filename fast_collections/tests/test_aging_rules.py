from odoo.tests import BaseCase, tagged

from ..rules.aging import bucket_index, bucket_ranges, parse_limits


@tagged("post_install", "-at_install")
class TestAgingRules(BaseCase):
    def test_default_buckets(self):
        """30,60,90: current, 1-30, 31-60, 61-90 and over 90."""
        limits = parse_limits("30,60,90")
        self.assertEqual(limits, (30, 60, 90))
        self.assertEqual(
            [bucket_index(days, limits) for days in (-5, 0, 1, 30, 31, 90, 91)],
            [0, 0, 1, 1, 2, 3, 4],
        )
        self.assertEqual(
            bucket_ranges(limits), [(1, 30), (31, 60), (61, 90), (91, None)]
        )

    def test_bad_limits_rejected(self):
        """Limits out of order, at zero or not numbers are rejected."""
        for text in ("60,30", "0,30", "30,30", "a,b", ""):
            with self.assertRaises(ValueError):
                parse_limits(text)
