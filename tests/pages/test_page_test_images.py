"""Test images page: the address, filters, the why panel, uploads."""

from __future__ import annotations

from page_helpers import exceptions, open_page, texts


def test_test_images_image_param_selects_image(make_app) -> None:
    at = open_page(make_app, "test_images", {"image": "110"})
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert "Test image #110" in texts(at.subheader)
    assert "**Actual: Pullover**" in texts(at.markdown)
    assert at.query_params["image"] == "110"
