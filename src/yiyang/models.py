"""Import every model module so the metadata is complete (Alembic, tests)."""

from yiyang.accounts import models as accounts_models  # noqa: F401
from yiyang.alarms import models as alarms_models  # noqa: F401
from yiyang.audit import models as audit_models  # noqa: F401
from yiyang.checkins import models as checkins_models  # noqa: F401
from yiyang.console import models as console_models  # noqa: F401
from yiyang.core.db import Base
from yiyang.devices import models as devices_models  # noqa: F401
from yiyang.notifications import models as notifications_models  # noqa: F401
from yiyang.presence import models as presence_models  # noqa: F401
from yiyang.regions import models as regions_models  # noqa: F401
from yiyang.registry import models as registry_models  # noqa: F401
from yiyang.services import models as services_models  # noqa: F401
from yiyang.subsidies import models as subsidies_models  # noqa: F401

metadata = Base.metadata
