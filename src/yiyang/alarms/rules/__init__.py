"""The alarm rules: pure functions from (state, event or clock tick, parameters) to findings.

No I/O and no clock of their own: the worker feeds them messages in device-time order per elder
and the sweeper feeds them ticks, so the same code replays a day of history as fast as it can
read it. Every finding carries ``detail`` that explains it in figures ("usually 14 motion events
by 10:00, today 0"); the UI turns that into a sentence.

One module per rule or rule family (``alarms``, ``vitals``, ``wandering``, ``water``, ``door``,
``bed``, ``wear``, ``activity``, ``inactivity``, ``morning``, ``routine``, ``battery``,
``offline``, ``away``, the learned ``silence``), the parameters in ``params``, the shared
types in ``state``, and ``dispatch`` routing a message to its rule (``on_event``) and running
the silence rules (``on_tick``). A new rule is a module and one line in ``dispatch``. Callers
use this package's names (``rules.on_event``, ``rules.Params``, ``rules.Finding``…).
"""

from yiyang.alarms.rules.alarms import IMMEDIATE
from yiyang.alarms.rules.dispatch import FACT_TICK_RULES, ON_EVENT, TICK_RULES, on_event, on_tick
from yiyang.alarms.rules.escalation import escalation_due, throttled
from yiyang.alarms.rules.offline import device_offline
from yiyang.alarms.rules.params import DEFAULTS, MERGED, POLYGON_SPAN_M, Params, merge
from yiyang.alarms.rules.routine import learn_baseline, routine_deviation
from yiyang.alarms.rules.state import Event, Facts, Finding, Response, State
from yiyang.alarms.rules.times import in_window, night_of
from yiyang.alarms.rules.wandering import inside_geofence

__all__ = [
    "DEFAULTS",
    "FACT_TICK_RULES",
    "IMMEDIATE",
    "MERGED",
    "ON_EVENT",
    "POLYGON_SPAN_M",
    "TICK_RULES",
    "Event",
    "Facts",
    "Finding",
    "Params",
    "Response",
    "State",
    "device_offline",
    "escalation_due",
    "in_window",
    "inside_geofence",
    "learn_baseline",
    "merge",
    "night_of",
    "on_event",
    "on_tick",
    "routine_deviation",
    "throttled",
]
