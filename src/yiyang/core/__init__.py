"""Thin platform core: configuration, database, auth and region scoping, audit, i18n."""
