"""The elder form as a browser parses it: limits are real attributes (not escaped text), and a
field's error is our message, translated, never pydantic's English."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.registry.models import Elder

pytestmark = pytest.mark.pages


class _Inputs(HTMLParser):
    """Each named input's attributes, as the HTML parser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.inputs[str(a["name"])] = a


def _inputs(html: str) -> dict[str, dict[str, str | None]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


def _own_elder(session) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    return session.scalars(
        select(Elder).where(Elder.region_path.startswith(path)).order_by(Elder.id).limit(1)
    ).one()


def test_edit_form_limits_are_attributes(client, browser_login, session) -> None:
    browser_login("community")
    elder = _own_elder(session)
    page = client.get(f"/elders/{elder.id}/edit")
    assert page.status_code == 200
    inputs = _inputs(page.text)
    assert inputs["name"]["maxlength"] == "64"
    assert inputs["address"]["maxlength"] == "255"
    assert inputs["care_level"]["min"] == "0" and inputs["care_level"]["max"] == "6"
    assert inputs["latitude"]["inputmode"] == "decimal"
    assert inputs["family_doctor_name"]["maxlength"] == "64"
    assert "&#34;" not in page.text and "&quot;64" not in page.text
    new = _inputs(client.get("/elders/new").text)
    assert new["id_number"]["maxlength"] == "18" and new["id_number"]["autocomplete"] == "off"


def test_field_errors_are_our_messages(client, browser_login, session) -> None:
    csrf = browser_login("community")
    elder = _own_elder(session)
    form = {
        "csrf_token": csrf,
        "version": str(elder.version),
        "name": "名" * 65,
        "address": elder.address,
        "region_code": "310104003001",
        "household": "alone",
        "care_level": "9",
    }
    page = client.post(f"/elders/{elder.id}/edit", data=form)
    assert page.status_code == 422
    assert "Enter at most 64 characters." in page.text
    assert "Enter a number of at most 6." in page.text
    assert "String should have" not in page.text and "Input should be" not in page.text
    client.cookies.set("lang", "zh_CN")
    page = client.post(f"/elders/{elder.id}/edit", data=form)
    assert "String should have" not in page.text and "Input should be" not in page.text


def test_list_filter_errors_are_our_messages(client, browser_login) -> None:
    browser_login("community")
    page = client.get("/elders?age_min=abc")
    assert page.status_code == 200 and "Age from: Enter a whole number." in page.text
