from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from odoo.modules.module import get_manifest, get_module_path
from odoo.tests import BaseCase, tagged

MODULE = "fast_collections"

# Attributes through which a page loads a resource, as opposed to links the
# reader follows (a href), which may point anywhere.
RESOURCE_ATTRIBUTES = {"src", "srcset", "data", "poster", "background", "action"}


class ListingParser(HTMLParser):
    """Collect what the Apps store description loads and runs."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.image_sources = []
        self.resources = []
        self.inline_styles = []
        self.event_handlers = []
        self.style_text = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.event_handlers.append(f"<{tag} {name}>")
            if name == "style":
                self.inline_styles.append(value)
            if name in RESOURCE_ATTRIBUTES:
                self.resources.append(value)
            if tag == "link" and name == "href":
                self.resources.append(value)
            if tag == "img" and name == "src":
                self.image_sources.append(value)
        self.in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.in_style = False

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.style_text.append(data)


def is_external(url):
    """Return whether ``url`` leaves the addon's description folder."""
    url = url.strip().lower()
    return url.startswith(("http:", "https:", "//", "data:", "ftp:", "/"))


@tagged("post_install", "-at_install")
class TestManifest(BaseCase):
    """The manifest and the Apps store listing in static/description."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.module_path = Path(get_module_path(MODULE))
        cls.description_path = cls.module_path / "static" / "description"
        cls.manifest = get_manifest(MODULE)
        cls.index_html = (cls.description_path / "index.html").read_text(
            encoding="utf-8"
        )
        cls.parser = ListingParser()
        cls.parser.feed(cls.index_html)
        cls.parser.close()

    def test_listing_keys(self):
        """The manifest gives what the Apps store shows beside the name."""
        manifest = self.manifest
        self.assertTrue(manifest["summary"])
        self.assertEqual(manifest["category"], "Accounting/Accounting")
        self.assertEqual(manifest["author"], "Fast Collections")
        self.assertEqual(
            manifest["website"], "https://github.com/fast-collections/fast_collections"
        )
        self.assertEqual(manifest["license"], "LGPL-3")
        self.assertEqual(manifest["maintainers"], ["fast-collections"])
        self.assertEqual(manifest["development_status"], "Beta")
        self.assertTrue(manifest["installable"])
        self.assertFalse(manifest["application"])

    def test_icon_square_png(self):
        """icon.png is a square PNG of at least 128 pixels."""
        with Image.open(self.description_path / "icon.png") as icon:
            self.assertEqual(icon.format, "PNG")
            width, height = icon.size
        self.assertEqual(width, height)
        self.assertGreaterEqual(width, 128)

    def test_manifest_images_exist(self):
        """Every manifest image is a PNG file of static/description."""
        images = self.manifest["images"]
        self.assertTrue(images, "the manifest lists no image for the store")
        for image in images:
            path = self.module_path / image
            self.assertEqual(path.parent, self.description_path, image)
            self.assertTrue(path.is_file(), f"{image} is missing")
            with Image.open(path) as picture:
                self.assertEqual(picture.format, "PNG", image)

    def test_index_images_exist(self):
        """index.html shows at least the nine screens, each a relative path to
        a file of static/description."""
        sources = self.parser.image_sources
        self.assertGreaterEqual(len(sources), 9)
        for source in sources:
            self.assertFalse(is_external(source), f"{source} is not relative")
            path = (self.description_path / source).resolve()
            self.assertEqual(path.parent, self.description_path.resolve(), source)
            self.assertTrue(path.is_file(), f"{source} is missing")

    def test_index_has_no_script(self):
        """index.html runs nothing: no script, no event handler, no frame."""
        tags = set(self.parser.tags)
        for tag in ("script", "iframe", "object", "embed", "form"):
            self.assertNotIn(tag, tags, f"index.html has a <{tag}> element")
        self.assertEqual(self.parser.event_handlers, [])
        self.assertNotIn("javascript:", self.index_html.lower())

    def test_index_loads_nothing_external(self):
        """index.html loads no resource from outside static/description. Only
        links that the reader follows may point elsewhere."""
        for resource in self.parser.resources:
            self.assertFalse(is_external(resource), f"{resource} is external")
        for style in self.parser.inline_styles + self.parser.style_text:
            self.assertNotIn("url(", style.replace(" ", "").lower(), style)
            self.assertNotIn("@import", style.lower(), style)
