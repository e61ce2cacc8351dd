"""Human labels for audit actions (English msgids; zh_CN from the catalogue)."""

from __future__ import annotations

from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _

ACTIONS: dict[str, str] = {
    "create": N_("Created"),
    "update": N_("Changed"),
    "delete": N_("Removed"),
    "read_medical": N_("Viewed medical profile"),
    "export": N_("Exported"),
    "import": N_("Imported"),
    "login": N_("Signed in"),
    "logout": N_("Signed out"),
    "login_failed": N_("Failed sign-in"),
    "account_locked": N_("Account locked"),
    "address_locked": N_("Sign-in address locked"),
    "token_revoked": N_("Session or token revoked"),
    "confirm_code_attempt": N_("Elder's code entered"),
    "confirm_code_locked": N_("Elder's code locked"),
    "confirm_code_reissued": N_("Elder's code reissued"),
    "dispatch_link_after_resolved": N_("Arrival link used after the alert was resolved"),
}


def action_label(action: str) -> str:
    return _(ACTIONS[action]) if action in ACTIONS else action
