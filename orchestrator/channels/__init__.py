"""Messaging channels: the wire formats the service speaks to customers through (today: WhatsApp)."""
