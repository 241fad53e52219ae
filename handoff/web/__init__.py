"""The rep workspace in the browser: server-rendered pages (Jinja2 + htmx, served from this package's
own static files), browser sign-in sessions with CSRF protection, and the offline API docs."""
