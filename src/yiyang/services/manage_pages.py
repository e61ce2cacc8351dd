"""Management pages of home services (#19): providers and their status, caregivers with their
skills and certificates, the service catalogue, canteens and their menus."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
