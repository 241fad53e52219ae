"""Tests of the WhatsApp channel library."""
