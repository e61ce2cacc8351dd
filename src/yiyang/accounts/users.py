"""User management for holders of ``can_manage_users``: list and search, create, edit role,
region and links, deactivate and reactivate, unlock after the sign-in lock-out, issue a
temporary password (shown once, changed at the next sign-in), and the queue of password reset
requests. Every account is reached through the central ``MANAGED_USERS`` rule; every write is
audited (the ``Audited`` rows, never a password hash) and flushed, committed by the caller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from yiyang.accounts import recovery, repository, rules, service, throttle
from yiyang.accounts.models import PasswordResetRequest, User, UserElderLink
from yiyang.accounts.schemas import UserCreate, UserListItem, UserRead, UserUpdate
from yiyang.core import audit, scoping
from yiyang.core.clock import now
from yiyang.core.errors import NotAuthenticated, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.core.security import hash_password, verify_password
from yiyang.regions import repository as regions
from yiyang.regions.models import Region

# The throttle scopes an unlock clears for a username (sign-in from every address) and for the
# user's id (wrong password reset codes, ``accounts.recovery``).
UNLOCK_USERNAME_SCOPES = (throttle.ACCOUNT,)


@dataclass(frozen=True)
class Issued:
    user: User
    temporary_password: str


def _problem(found: rules.Problem | None) -> None:
    if found is not None:
        raise ValidationFailed(found.message, field=found.field)


def list_users(
    session: Session,
    actor: Actor,
    *,
    q: str = "",
    role: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[UserListItem]:
    users = repository.search_users(
        session, actor, q=q, role=role, active=active, limit=limit, offset=offset
    )
    locked = repository.locked_usernames(session, [u.username for u in users], now())
    return [_list_item(u, u.username in locked) for u in users]


def _list_item(user: User, locked: bool) -> UserListItem:
    return UserListItem(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        region_path=user.region_path,
        phone=user.phone,
        active=user.active,
        must_change_password=user.must_change_password,
        locked=locked,
        last_login_at=user.last_login_at,
    )


def access_user(session: Session, actor: Actor, user_id: int) -> User:
    """The account if the actor manages it, else 404 (outside the area is not told apart)."""
    user = repository.managed_user(session, actor, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def read_user(session: Session, actor: Actor, user_id: int) -> UserRead:
    return to_read(session, access_user(session, actor, user_id))


def to_read(session: Session, user: User) -> UserRead:
    locked = user.username in repository.locked_usernames(session, [user.username], now())
    return UserRead(
        **_list_item(user, locked).model_dump(),
        provider_id=user.provider_id,
        elder_ids=repository.linked_elder_ids(session, user.id),
        created_at=user.created_at,
    )


def _region(session: Session, actor: Actor, code: str) -> Region:
    region = regions.by_code(session, code.strip())
    if region is None or not rules.within(actor, region.path):
        raise ValidationFailed(_("Choose a region within your own area."), field="region_code")
    return region


def _check_elders(session: Session, actor: Actor, elder_ids: Sequence[int]) -> None:
    """Each elder exists and lies in the actor's area (the central ``ELDER_IDS`` rule)."""
    rule = scoping.row_rule(scoping.ELDER_IDS)
    for elder_id in elder_ids:
        if session.scalar(select(literal(1)).where(rule(actor, literal(elder_id)))) is None:
            raise ValidationFailed(
                _("Elder no. %(id)d is not in your area or does not exist.", id=elder_id),
                field="elder_ids",
            )


def create(session: Session, actor: Actor, data: UserCreate) -> Issued:
    region = _region(session, actor, data.region_code)
    elder_ids = sorted(set(data.elder_ids))
    _problem(
        rules.check_assignment(
            actor,
            data.role,
            region.path,
            elders=len(elder_ids),
            provider_id=data.provider_id,
        )
    )
    if repository.user_by_username(session, data.username) is not None:
        raise ValidationFailed(_("That username is taken."), field="username")
    _check_elders(session, actor, elder_ids)
    password = rules.temporary_password()
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(password),
        role=data.role,
        region_id=region.id,
        region_path=region.path,
        provider_id=data.provider_id if data.role in rules.PROVIDER_ROLES else None,
        phone=data.phone,
        must_change_password=True,
    )
    session.add(user)
    session.flush()
    for elder_id in elder_ids:
        session.add(UserElderLink(user_id=user.id, elder_id=elder_id))
    session.flush()
    return Issued(user, password)


def update(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = access_user(session, actor, user_id)
    role = data.role or Role(user.role)
    region = _region(session, actor, data.region_code) if data.region_code else None
    region_path = region.path if region else user.region_path
    provider_id = data.provider_id if data.provider_id is not None else user.provider_id
    current = repository.links_of(session, user.id)
    wanted = sorted(set(data.elder_ids)) if data.elder_ids is not None else None
    kept_outside = _outside(session, actor, current) if wanted is not None else set()
    elders = len(wanted) + len(kept_outside) if wanted is not None else len(current)
    _problem(rules.check_self_change(actor, user.id, role, user.active))
    _problem(
        rules.check_assignment(actor, role, region_path, elders=elders, provider_id=provider_id)
    )
    if wanted is not None:
        _check_elders(session, actor, wanted)
        _replace_links(session, user, current, wanted, kept_outside)
    if data.display_name is not None:
        user.display_name = data.display_name.strip()
    user.role = role
    if region is not None:
        user.region_id, user.region_path = region.id, region.path
    user.provider_id = provider_id if role in rules.PROVIDER_ROLES else None
    if data.phone is not None:
        user.phone = data.phone or None
    session.flush()
    return user


def _outside(session: Session, actor: Actor, links: Sequence[UserElderLink]) -> set[int]:
    """Linked elders the actor cannot see: an edit keeps those links as they are."""
    rule = scoping.row_rule(scoping.ELDER_IDS)
    return {
        link.elder_id
        for link in links
        if session.scalar(select(literal(1)).where(rule(actor, literal(link.elder_id)))) is None
    }


def _replace_links(
    session: Session,
    user: User,
    current: Sequence[UserElderLink],
    wanted: Sequence[int],
    kept_outside: set[int],
) -> None:
    have = {link.elder_id: link for link in current}
    for elder_id, link in have.items():
        if elder_id not in wanted and elder_id not in kept_outside:
            session.delete(link)
    for elder_id in wanted:
        if elder_id not in have:
            session.add(UserElderLink(user_id=user.id, elder_id=elder_id))
    session.flush()


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (every session and token stops at once) or reactivate an account."""
    user = access_user(session, actor, user_id)
    _problem(rules.check_self_change(actor, user.id, Role(user.role), active))
    if user.active != active:
        user.active = active
        session.flush()
        if not active:
            service.revoke_all(session, user, "token_revoked")
    return user


def unlock(session: Session, actor: Actor, user_id: int) -> User:
    """Lift the sign-in lock-out of an account, from every address, and the lock on its
    password reset codes; audited."""
    user = access_user(session, actor, user_id)
    cleared = repository.forget_username_counters(session, UNLOCK_USERNAME_SCOPES, user.username)
    cleared += recovery.forget_locks(session, user)
    audit.record(
        session,
        "account_unlocked",
        "app_user",
        str(user.id),
        region_path=user.region_path,
        summary=f"sign-in lock-out of {user.username} lifted ({cleared} counters)",
    )
    session.flush()
    return user


def issue_temporary_password(
    session: Session, actor: Actor, user_id: int, request_id: int | None = None
) -> Issued:
    """A new random password for the user, to be read to them once: their sessions and tokens
    are revoked, the lock-out lifted, and the user must choose their own at the next sign-in.
    Handles the pending reset requests of the user. Audited without the password."""
    user = access_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise ValidationFailed(
            _("Change your own password on your account page."), field="password"
        )
    password = rules.temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    session.flush()
    service.revoke_all(session, user, "token_revoked")
    repository.forget_username_counters(session, UNLOCK_USERNAME_SCOPES, user.username)
    _handle_requests(session, actor, user, "reset", request_id)
    audit.record(
        session,
        "password_reset",
        "app_user",
        str(user.id),
        region_path=user.region_path,
        summary=f"temporary password issued to {user.username}",
    )
    session.flush()
    return Issued(user, password)


def reset_from_the_console(session: Session, username: str) -> Issued:
    """``yiyang reset-password``: a temporary password for any account, for whoever runs the
    server (the way back in for a platform admin who lost theirs). Like a manager's reset:
    sessions end, the lock-out is lifted, the password must be changed; audited as the CLI."""
    user = repository.user_by_username(session, username.strip())
    if user is None:
        raise NotFound(_("No such user."))
    password = rules.temporary_password()
    with audit.acting_as(audit.AuditActor(None, "cli")):
        user.password_hash = hash_password(password)
        user.must_change_password = True
        session.flush()
        service.revoke_all(session, user, "token_revoked")
        repository.forget_username_counters(session, UNLOCK_USERNAME_SCOPES, user.username)
        audit.record(
            session,
            "password_reset",
            "app_user",
            str(user.id),
            region_path=user.region_path,
            summary=f"temporary password issued to {user.username} from the command line",
        )
        session.flush()
    return Issued(user, password)


def _handle_requests(
    session: Session, actor: Actor, user: User, state: str, request_id: int | None
) -> None:
    at = now()
    pending = repository.pending_requests(session, user.id)
    if request_id is not None and request_id not in {r.id for r in pending}:
        raise NotFound(_("No such pending request."))
    for request in pending:
        request.state, request.handled_by, request.handled_at = state, actor.user_id, at


def list_reset_requests(
    session: Session, actor: Actor, state: str | None = "pending"
) -> list[tuple[PasswordResetRequest, User]]:
    return repository.reset_requests(session, actor, state)


def refuse_request(session: Session, actor: Actor, request_id: int) -> PasswordResetRequest:
    """Refuse a pending reset request (the admin could not confirm who asked); audited."""
    found = next(
        (r for r in repository.reset_requests(session, actor, "pending") if r[0].id == request_id),
        None,
    )
    if found is None:
        raise NotFound(_("No such pending request."))
    request = found[0]
    request.state, request.handled_by, request.handled_at = "refused", actor.user_id, now()
    session.flush()
    return request


def change_own_password(session: Session, actor: Actor, current: str, new: str) -> User:
    """The signed-in user replaces their password (a temporary one included). Audited without
    the password."""
    user = repository.user_by_id(session, actor.user_id)
    if user is None or not user.active:
        raise NotAuthenticated(_("Please sign in."))
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(_("The current password is wrong."), field="current_password")
    problem = rules.check_new_password(new, user.username)
    if problem is None and verify_password(user.password_hash, new):
        problem = _("Choose a password different from the current one.")
    if problem is not None:
        raise ValidationFailed(problem, field="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.flush()
    audit.record(
        session,
        "password_changed",
        "app_user",
        str(user.id),
        region_path=user.region_path,
        summary=f"{user.username} chose a new password",
    )
    return user
