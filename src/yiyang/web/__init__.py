"""Server-rendered pages: Jinja2 templates, HTMX, static assets."""
