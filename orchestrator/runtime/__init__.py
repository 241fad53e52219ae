"""The composition root: app, CLI, service container, webhook, turn engine, graph wiring, replay."""
