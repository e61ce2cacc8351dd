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
    "account_unlocked": N_("Account unlocked"),
    "password_changed": N_("Password changed"),
    "password_reset": N_("Password reset by an administrator"),
    "password_reset_by_code": N_("Password reset with a code"),
    "password_reset_code_sent": N_("Password reset code sent"),
    "password_reset_failed": N_("Password reset failed"),
    "password_reset_refused": N_("Password reset refused"),
    "sign_in_code_sent": N_("Sign-in code sent"),
    "sign_in_code_refused": N_("Sign-in code refused"),
    "family_linked_family": N_("Family member linked by invitation"),
    "invitation_failed": N_("Invitation code refused"),
    "dev_outbox_read": N_("Development outbox read"),
    "read_dead_letters": N_("Refused messages viewed"),
    "record_consents": N_("Consents recorded"),
    "install_devices": N_("Devices installed"),
    "open_month": N_("Subsidy month opened"),
    "settle": N_("Month-end settlement"),
    "escalate": N_("Escalated"),
    "dispatch": N_("Responder sent"),
    "device_offline": N_("Device went offline"),
}


def action_label(action: str) -> str:
    return _(ACTIONS[action]) if action in ACTIONS else action
