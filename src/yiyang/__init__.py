"""Yiyang (颐养): smart home- and community-based elderly care platform."""

__version__ = "0.1.0"
