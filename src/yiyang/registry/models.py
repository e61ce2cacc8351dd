from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base
from yiyang.core.masking import mask_id_number
from yiyang.registry.enums import ElderStatus, Gender, Household, Mobility

# Index pages packed to 70 % when PostgreSQL builds them (a migration, a district's first load,
# a REINDEX): the keys of these indexes arrive in random order after that (names, phones, ID
# tails, birth dates; names within a community), and a page packed to the default 90 % splits
# at the next insert. Indexes on a region or a category alone keep the default: their new keys
# go to the end of each value's range (row ids grow), a few places that split once. Measured on
# the import after a first load of 1,000,000 (bench/README.md, issue #17).
GROWING = {"fillfactor": 70}


class Elder(Audited, Base):
    __tablename__ = "elder"
    __audit_mask__: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "id_number": mask_id_number,
        "id_number_legacy": mask_id_number,  # the old 15-digit number is an ID number too
    }
    __table_args__ = (
        Index(
            "ix_elder_region_path",
            "region_path",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
        # "C" collation on PostgreSQL (below): one (name, id) index serves both the prefix
        # search and the sorted list; (birth_date, id) serves the age sorts.
        Index("ix_elder_name", "name", "id", postgresql_with=GROWING),
        Index("ix_elder_community_name", "region_path", "name", "id", postgresql_with=GROWING),
        Index(
            "ix_elder_street_name",
            func.substr(text("region_path"), 1, 27),
            "name",
            "id",
            postgresql_with=GROWING,
        ),
        Index("ix_elder_id_tail", "id_tail", postgresql_with=GROWING),
        Index("ix_elder_mobile_phone", "mobile_phone", postgresql_with=GROWING),
        Index("ix_elder_home_phone", "home_phone", postgresql_with=GROWING),
        Index("ix_elder_birth_date", "birth_date", "id", postgresql_with=GROWING),
        # Low-cardinality filters, paired with the scope prefix so a filtered list or its
        # count never scans the whole city.
        Index(
            "ix_elder_household_region",
            "household",
            "region_path",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
        Index(
            "ix_elder_dementia_region",
            "region_path",
            postgresql_ops={"region_path": "text_pattern_ops"},
            postgresql_where=text("dementia"),
            sqlite_where=text("dementia"),
        ),
        Index(
            "ix_elder_dementia_street",
            func.substr(text("region_path"), 1, 27),
            postgresql_where=text("dementia"),
            sqlite_where=text("dementia"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql")
    )
    gender: Mapped[Gender] = mapped_column(String(8))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    id_tail: Mapped[str] = mapped_column(String(4))  # last four, for "search by ID tail"
    # The 15-digit first-generation number as given, when ``id_number`` was upgraded from it
    id_number_legacy: Mapped[str | None] = mapped_column(String(15))
    mobile_phone: Mapped[str | None] = mapped_column(String(20))
    home_phone: Mapped[str | None] = mapped_column(String(20))  # the landline
    # Further numbers and what was written beside a number: "13812345678（儿子）；13900000000"
    phone_notes: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    region_path: Mapped[str] = mapped_column(String(255))  # copied from the region, for scoping
    household: Mapped[Household] = mapped_column(String(16))
    care_level: Mapped[int | None] = mapped_column(SmallInteger)  # 0–6 (统一需求评估 照护等级)
    # Medical profile (sensitive: masked for roles without can_view_medical, reads audited)
    chronic_conditions: Mapped[list[Any]] = mapped_column(default=list)
    allergies: Mapped[list[Any]] = mapped_column(default=list)
    medications: Mapped[list[Any]] = mapped_column(default=list)
    mobility: Mapped[Mobility] = mapped_column(String(16), default=Mobility.INDEPENDENT)
    blood_type: Mapped[str | None] = mapped_column(String(8))
    dementia: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_notes: Mapped[str | None] = mapped_column(Text)
    # Home access
    key_holder: Mapped[str | None] = mapped_column(String(128))
    access_notes: Mapped[str | None] = mapped_column(Text)
    # Family doctor (家庭医生签约)
    family_doctor_name: Mapped[str | None] = mapped_column(String(64))
    family_doctor_phone: Mapped[str | None] = mapped_column(String(20))
    family_doctor_org: Mapped[str | None] = mapped_column(String(128))
    # Consent (PIPL art. 29): the consents in force, kept in step with the append-only
    # ``consent_record`` by ``registry.consents.record`` (never set directly); ``consent_date``:
    # the day the latest of them was signed or withdrawn. Read by the scoping rules
    # (``registry.permissions``) and the rule worker's monitoring gate.
    consent_data_processing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_health_monitoring: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_share_with_family: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ElderStatus] = mapped_column(String(16), default=ElderStatus.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    categories: Mapped[list[ElderCategory]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ElderCategory.category"
    )
    contacts: Mapped[list[EmergencyContact]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="EmergencyContact.priority"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def audit_elder_id(self) -> int | None:
        return self.id

    @property
    def category_codes(self) -> list[str]:
        return [c.category for c in self.categories]


class ElderCategory(Audited, Base):
    __tablename__ = "elder_category"
    __table_args__ = (Index("ix_elder_category_category", "category", "elder_id"),)

    elder_id: Mapped[int] = mapped_column(
        ForeignKey("elder.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)


class EmergencyContact(Audited, Base):
    __tablename__ = "emergency_contact"
    __table_args__ = (Index("ix_emergency_contact_elder", "elder_id", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id", ondelete="CASCADE"))
    priority: Mapped[int] = mapped_column(SmallInteger)  # 1 = call first
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    phone_alt: Mapped[str | None] = mapped_column(String(20))
    receives_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    # Alerts also by e-mail to this address (set by the family member on their own page)
    email: Mapped[str | None] = mapped_column(String(255))


class ElderStatusChange(Base):
    """Append-only status history (active → moved out / deceased, and back)."""

    __tablename__ = "elder_status_change"
    __table_args__ = (Index("ix_elder_status_change_elder", "elder_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=now)


class ImportBatch(Base):
    """One upload of a roll: the validation report and, once committed, what it changed.
    Rejected rows stay here, downloadable, with their reasons."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[int | None] = mapped_column(Integer)
    region_path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    committed_at: Mapped[dt.datetime | None]
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    valid_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[list[Any]] = mapped_column(default=list)  # [{row, errors, values, cells}]
    # The header row, the file's headers and the column mapping used: {header_row, headers,
    # fields}. A clerk's corrected mapping is kept here, so the commit reads the file the same way.
    layout: Mapped[dict[str, Any] | None]
    stored_file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class RegistrySynonym(Audited, Base):
    """A district's own wording for a household, gender, category or relation value, laid over
    the defaults of ``registry.synonyms`` for imports within ``region_path``."""

    __tablename__ = "registry_synonym"
    __table_args__ = (
        UniqueConstraint("region_path", "kind", "wording", name="uq_registry_synonym_wording"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_path: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    wording: Mapped[str] = mapped_column(String(64))  # as compared: NFKC, no spaces, lower case
    value: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class ConsentRecord(Audited, Base):
    """One consent given or withdrawn (PIPL art. 14–15, 29): append-only, never edited; the
    state in force is the latest record per purpose, copied onto the elder's ``consent_*``
    columns in the same flush (``registry.consents``)."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_record_elder", "elder_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id", ondelete="CASCADE"))
    region_path: Mapped[str] = mapped_column(String(255))  # the elder's, for the audit scope
    purpose: Mapped[str] = mapped_column(String(32))  # registry.consents.Purpose
    action: Mapped[str] = mapped_column(String(16))  # given | withdrawn
    # The consent text the elder was shown (registry.consents.TEXTS); "legacy" for the flags
    # recorded before texts were versioned.
    text_version: Mapped[str] = mapped_column(String(32))
    signed_on: Mapped[dt.date] = mapped_column(Date)  # the day the elder said so
    method: Mapped[str] = mapped_column(String(16))  # paper | in_person | phone | app | import
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[int | None] = mapped_column(Integer)  # user id; None: system, migration
    recorded_by_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=now)
