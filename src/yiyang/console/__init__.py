"""The alarm receiving console: operators claim alerts, call, dispatch responders, brief 120,
resolve; the emergency card; service-level reports."""
